"""`kvm-patchbot` command line: one module per sub-command, each with `register()`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from bot.cli import deliveries, demo, digest, ingest, parse, reparse, run, series, subscriptions, unparsed

COMMANDS = (parse, ingest, series, reparse, unparsed, run, demo, subscriptions, digest, deliveries)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kvm-patchbot",
        description="Follow the KVM mailing list: parse, track series, post to Discord.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return int(args.func(args) or 0)
