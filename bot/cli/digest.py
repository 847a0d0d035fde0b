"""`kvm-patchbot digest`: print the "KVM mailing list update" for a window.

Three ways to name the window:
  PATH...                      mbox/eml files or directories, read into a
                               temporary database (optionally cut by --since/--until)
  --inbox GITDIR --range A..B  the public-inbox commits of `git log A..B` (A
                               excluded, B included); the header names A and B
  [--db URL] --since T --until T   mails dated in [T, T') from an existing store
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bot.cli.common import add_store_arguments, chosen_store, open_store
from bot.digest.model import DigestMail, Window
from bot.digest.render import render_digest
from bot.digest.source import window_mails
from bot.ingest.publicinbox import epochs, is_git_dir
from bot.ingest.sources import SourceError, iter_paths, iter_publicinbox
from bot.store import Store


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "digest",
        help="print the KVM mailing list update for a window of mails",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="mbox/eml files or directories")
    add_store_arguments(p, help="an existing store (default: the configured one)")
    p.add_argument("--since", type=_moment, metavar="T", help="ISO date/time, inclusive (UTC if no offset)")
    p.add_argument("--until", type=_moment, metavar="T", help="ISO date/time, exclusive")
    p.add_argument("--inbox", type=Path, metavar="GITDIR", help="a public-inbox epoch (or v2 top directory)")
    p.add_argument("--range", dest="rev_range", metavar="A..B", help="the commits of `git log A..B`")
    p.set_defaults(func=_run)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO date/time: {text!r}") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _run(args: argparse.Namespace) -> int:
    try:
        text = asyncio.run(_digest(args))
    except (SourceError, ValueError) as exc:
        print(f"kvm-patchbot digest: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


async def _digest(args: argparse.Namespace) -> str:
    if args.since is not None and args.until is not None and args.since >= args.until:
        raise ValueError("--since must be before --until")
    if args.inbox is not None:
        if args.paths or args.db:
            raise ValueError("--inbox reads its own range: give no PATH or --db with it")
        if not args.rev_range:
            raise ValueError("--inbox needs --range A..B")
        return await _from_inbox(args.inbox, args.rev_range)
    if args.rev_range:
        raise ValueError("--range needs --inbox")
    if args.paths:
        if args.db:
            raise ValueError("PATHs are read into a temporary database: drop --db")
        return await _from_paths(args.paths, args.since, args.until)
    if args.since is None or args.until is None:
        raise ValueError("give PATHs, --inbox with --range, or --since and --until")
    store = await open_store(chosen_store(args.db, args.pg_schema))
    try:
        mails = await window_mails(store, since=args.since, until=args.until)
    finally:
        await store.close()
    return render_digest(Window.for_dates(args.since, args.until), mails)


async def _from_inbox(gitdir: Path, rev_range: str) -> str:
    start, _, end = rev_range.partition("..")
    if not start or not end:
        raise ValueError(f"bad range {rev_range!r}: expected A..B with both ends")
    records = iter_publicinbox(gitdir, rev_range)  # checks the range before reading
    window = Window.for_range(_resolve(gitdir, start), _resolve(gitdir, end))
    with tempfile.TemporaryDirectory(prefix="kvm-patchbot-digest-") as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp}/digest.db")
        try:
            refs: list[str] = []

            def pairs() -> Iterator[tuple[bytes, str]]:
                for rec in records:
                    refs.append(rec.ref)
                    yield rec.data, rec.ref

            await store.ingest_many(pairs(), source="public-inbox")
            mails = await window_mails(store, source_refs=refs)
        finally:
            await store.close()
    return render_digest(window, mails)


async def _from_paths(paths: list[Path], since: datetime | None, until: datetime | None) -> str:
    records = iter_paths(paths)  # checks every path before reading
    with tempfile.TemporaryDirectory(prefix="kvm-patchbot-digest-") as tmp:
        store = await Store.open(f"sqlite+aiosqlite:///{tmp}/digest.db")
        try:
            await store.ingest_many(((r.data, r.ref) for r in records), source="file")
            mails = await window_mails(store, since=since, until=until)
        finally:
            await store.close()
    return render_digest(_span(mails, since, until), mails)


def _span(mails: list[DigestMail], since: datetime | None, until: datetime | None) -> Window:
    """The asked bounds, else the first and last Date among the mails."""
    dates = sorted(m.parsed.date for m in mails if m.parsed.date is not None)
    first = since or (dates[0] if dates else None)
    last = until or (dates[-1] if dates else None)
    if first is None or last is None:
        return Window(start="(no date)", end="(no date)")
    return Window.for_dates(first, last)


def _resolve(gitdir: Path, rev: str) -> str:
    """The full commit id of `rev` in the epoch that has it."""
    repos = [gitdir] if is_git_dir(gitdir) else (epochs(gitdir) or [])
    for repo in repos:
        done = subprocess.run(
            ["git", f"--git-dir={repo}", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 0:
            return done.stdout.strip()
    raise SourceError(f"{rev!r} is not a commit in {gitdir}")
