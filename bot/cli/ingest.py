"""`kvm-patchbot ingest PATH...`: import .eml files, mboxes, directories and
public-inbox git archives into the store, with a progress bar and a summary."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from tqdm import tqdm  # type: ignore[import-untyped]  # (no stubs shipped)

from bot.cli.common import StoreTarget, add_store_arguments, chosen_store, open_store
from bot.ingest.gitimport import count_commits, cursor_name, plan, run_plan
from bot.ingest.publicinbox import epochs, is_git_dir
from bot.ingest.record import RawMail, SourceError
from bot.ingest.sources import iter_path, is_mbox
from bot.store import IngestStats, Store
from bot.store.delivery import backfill_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ingest",
        help="import .eml, mbox, directories or public-inbox git archives",
        description=(
            "Import mail into the store. PATH is an .eml file, an mbox, a directory of "
            "them, a public-inbox epoch (bare git repository) or a v2 archive directory. "
            "Mails already stored (same Message-ID) are counted as duplicates."
        ),
    )
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    add_store_arguments(p, help="store URL (default: the configured store.url)")
    p.add_argument("--config", type=Path, help="TOML settings file")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--range", dest="rev_range", metavar="A..B", help="only these commits of a git archive")
    mode.add_argument(
        "--incremental",
        action="store_true",
        help="git archives only: import the commits after the last run's, and remember where this run stops",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--announce",
        action="store_true",
        help="post what this import changes to the subscribed channels; by default an "
        "import is a back-fill: stored and tracked, never announced",
    )
    p.set_defaults(func=_run)


def _is_git(path: Path) -> bool:
    return is_git_dir(path) or (path.is_dir() and epochs(path) is not None)


def _epochs(path: Path) -> list[Path]:
    return [path] if is_git_dir(path) else list(epochs(path) or [])


def _source_label(path: Path) -> str:
    if _is_git(path):
        return "public-inbox"
    if path.is_dir():
        return "dir"
    return "mbox" if is_mbox(path) else "eml"


def _known_total(paths: list[Path], rev_range: str | None) -> int | None:
    """The number of mails when it is cheap to know (git: rev-list --count)."""
    total = 0
    for path in paths:
        if _is_git(path):
            total += sum(count_commits(e, rev_range) for e in _epochs(path))
        elif path.is_file() and not is_mbox(path):
            total += 1
        else:
            return None
    return total


def _pairs(mails: Iterable[RawMail]) -> Iterator[tuple[bytes, str]]:
    for m in mails:
        yield m.data, m.ref


class Progress:
    """Accumulates IngestStats over several imports and drives the tqdm bar."""

    def __init__(self, total: int | None, quiet: bool) -> None:
        self.stats = IngestStats()
        self.bar = tqdm(total=total, unit="mail", file=sys.stderr, disable=quiet, dynamic_ncols=True, smoothing=0.1)
        self._base = IngestStats()

    def begin(self) -> None:
        """A new import call starts: its stats count from zero again."""
        self._base = IngestStats(**{k: getattr(self.stats, k) for k in _FIELDS})

    def update(self, got: IngestStats) -> None:
        before = self.stats.read
        for k in _FIELDS:
            setattr(self.stats, k, getattr(self._base, k) + getattr(got, k))
        self.bar.update(self.stats.read - before)
        self.bar.set_postfix(new=self.stats.new, dup=self.stats.duplicates, refresh=False)


_FIELDS = ("read", "new", "duplicates", "unparsed", "series_created", "events", "batches", "fallbacks")


async def _import(store: Store, args: argparse.Namespace, progress: Progress) -> None:
    for path in args.paths:
        label = _source_label(path) if args.announce else backfill_source(_source_label(path))
        if args.incremental:
            for epoch in _epochs(path):
                await _import_incremental(store, epoch, progress, announce=args.announce)
            continue
        progress.begin()
        got = await store.ingest_many(_pairs(iter_path(path, args.rev_range)), source=label, progress=progress.update)
        progress.update(got)


async def _import_incremental(store: Store, epoch: Path, progress: Progress, *, announce: bool) -> None:
    name = cursor_name(epoch)
    todo = plan(epoch, await store.get_cursor(name))
    if todo is None:
        return
    source = "public-inbox" if announce else backfill_source("public-inbox")

    async def chunk(mails: list[RawMail]) -> None:
        progress.begin()
        got = await store.ingest_many(_pairs(mails), source=source, progress=progress.update)
        progress.update(got)

    async def save(commit: str) -> None:
        await store.set_cursor(name, commit)

    await run_plan(todo, chunk, save)


def _check(args: argparse.Namespace) -> None:
    """Fail before reading anything: missing paths, ranges or --incremental on non-git paths."""
    for path in args.paths:
        if not path.exists():
            raise SourceError(f"no such file or directory: {path}")
        if (args.incremental or args.rev_range) and not _is_git(path):
            flag = "--incremental" if args.incremental else "--range"
            raise SourceError(f"{flag} needs a public-inbox git archive, not {path}")
    if args.rev_range:
        for path in args.paths:
            iter_path(path, args.rev_range)  # checks the range; reads nothing yet


def summary(stats: IngestStats, seconds: float) -> str:
    rate = stats.read / seconds if seconds > 0 else 0.0
    return (
        f"{stats.read} mails, {stats.new} new, {stats.duplicates} duplicates, "
        f"{stats.unparsed} unparseable, {stats.series_created} series, "
        f"{seconds:.1f} s, {rate:,.0f} mails/s"
    )


async def _main(args: argparse.Namespace, target: StoreTarget) -> int:
    _check(args)
    total = None if args.incremental else _known_total(args.paths, args.rev_range)
    start = time.perf_counter()
    store = await open_store(target)  # before the bar: a store that cannot open leaves no bar behind
    progress = Progress(total, args.quiet)
    try:
        if args.incremental:
            todo_total = 0
            for path in args.paths:
                for epoch in _epochs(path):
                    p = plan(epoch, await store.get_cursor(cursor_name(epoch)))
                    todo_total += p.total if p else 0
            progress.bar.reset(total=todo_total)
        await _import(store, args, progress)
    finally:
        progress.bar.close()
        await store.close()
        print(summary(progress.stats, time.perf_counter() - start), file=sys.stderr)
        if progress.stats.unparsed:
            print("kept, not understood: `kvm-patchbot unparsed` lists them, with why", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    try:
        target = chosen_store(args.db, args.pg_schema, args.config, must_exist=False)
        return asyncio.run(_main(args, target))
    except SourceError as exc:
        print(f"kvm-patchbot ingest: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kvm-patchbot ingest: interrupted; committed batches are kept", file=sys.stderr)
        return 130
    # Anything else (the database is down, a file vanished): bot.cli.main, in one line.
