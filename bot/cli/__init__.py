"""`kvm-patchbot` command line: one module per sub-command, each with `register()`.

Only the chosen command's module is imported: importing them all, with
SQLAlchemy, discord.py, aiosmtpd, alembic and pydantic-settings behind them,
took 0.6 s before `--help` could print (bench/startup.py measures it). So the
list of commands and their one-line help live here, in `COMMANDS`, and
tests/test_cli.py checks it against each module's own `register()`.

Errors are handled here, once, for every command: one line on stderr saying
what is wrong, exit status 2 for unusable arguments or settings, 1 when the
work itself failed (the database is down, ...), 130 on Ctrl-C; `--debug`
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from bot.cli.common import CliError, describe_error, is_usage_error

# name -> (module, the one-line help `kvm-patchbot --help` shows), in help order.
COMMANDS: dict[str, tuple[str, str]] = {
    "parse": ("bot.cli.parse", "parse mail (.eml, mbox, directory, public-inbox git) and print JSON"),
    "ingest": ("bot.cli.ingest", "import .eml, mbox, directories or public-inbox git archives"),
    "series": ("bot.cli.series", "list series postings (versions, patches, trailers, applied)"),
    "reparse": ("bot.cli.reparse", "re-parse stored mail and rebuild series, lineages and trailers"),
    "unparsed": ("bot.cli.unparsed", "list the mails kept but not understood, with why"),
    "variants": ("bot.cli.variants", "list the mails that reused a known Message-ID with another body"),
    "list-mail": ("bot.cli.listmail", "list the subscription confirmations, bounces and notices received"),
    "run": ("bot.cli.run", "run the service: SMTP sink, store, poller, Discord delivery"),
    "check-config": ("bot.cli.checkconfig", "check a configuration file and the environment; list every problem"),
    "demo": ("bot.cli.demo", "run the service on sample mail and print the cards it would post"),
    "subscriptions": ("bot.cli.subscriptions", "add, list or remove Discord channel subscriptions"),
    "digest": ("bot.cli.digest", "print the KVM mailing list update for a window of mails"),
    "deliveries": ("bot.cli.deliveries", "list deliveries, or retry parked ones by hand"),
}
PROG = "kvm-patchbot"
_ANYWHERE = ("--debug", "-v", "--verbose")


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: the usage block of a sub-command runs to
    a dozen lines and buries the message; --help is one word away."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def chosen_command(argv: Sequence[str]) -> str | None:
    """The sub-command named in `argv`: the first word that is not an option
    (the top-level options take no value)."""
    for word in argv:
        if word == "--":
            return None
        if not word.startswith("-"):
            return word
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the full arguments of `command` only ("*": of every command).

    The others are listed with their help but not imported: enough to print
    `kvm-patchbot --help` and to refuse an unknown command.
    """
    parser = Parser(
        prog=PROG,
        description="Follow the KVM mailing list: parse, track series, post to Discord.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error, and debug logging (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, summary) in COMMANDS.items():
        if command in (name, "*"):
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=summary, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # --debug and -v are taken anywhere on the line (`kvm-patchbot series --debug
    # ...`): they are what one adds to a command that just failed.
    end = argv.index("--") if "--" in argv else len(argv)
    flags = {a for a in argv[:end] if a in _ANYWHERE}
    argv = [a for a in argv[:end] if a not in _ANYWHERE] + argv[end:]
    args, extra = build_parser(chosen_command(argv)).parse_known_args(argv)
    if extra:  # said by the command's parser, not the top one: it is the command's --help that helps
        prog = f"{PROG} {args.command}"
        print(f"{prog}: unrecognized arguments: {' '.join(extra)} (see `{prog} --help`)", file=sys.stderr)
        return 2
    args.debug = "--debug" in flags
    args.verbose = bool(flags & {"-v", "--verbose"})
    debug = args.debug
    # Commands speak for themselves (output, summaries, errors): the libraries'
    # INFO lines (alembic's, on every store open) would bury them. `run` sets
    # the configured log_level.
    logging.basicConfig(
        level=logging.DEBUG if args.verbose or debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    where = f"{PROG} {args.command}"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{where}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `| head`: the reader is gone; not an error of ours.
        sys.stderr.close()
        return 0
    except Exception as exc:
        if debug:
            raise
        usage = isinstance(exc, CliError) and exc.usage or is_usage_error(exc)
        hint = "" if usage else " (--debug shows the traceback)"
        print(f"{where}: {describe_error(exc)}{hint}", file=sys.stderr)
        return 2 if usage else 1
