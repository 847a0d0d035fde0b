"""`kvm-patchbot ingest`: under construction (owned by the stage that provides it)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ingest", help="(not built yet)")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    raise SystemExit("kvm-patchbot ingest: not built yet")
