"""Incremental import of a public-inbox epoch: from the last imported commit to a tip.

The caller owns storage: it passes async callbacks to import a chunk of mails
and to save the cursor (the last imported commit) after each committed chunk,
so an interrupted import resumes where it stopped and repeats nothing.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Awaitable, Callable, Generator, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from bot.ingest.publicinbox import iter_git
from bot.ingest.record import RawMail, SourceError

log = logging.getLogger(__name__)

CHUNK = 2000  # mails per committed chunk: the cursor moves this often

ImportChunk = Callable[[list[RawMail]], Awaitable[None]]
SaveCursor = Callable[[str], Awaitable[None]]


def cursor_name(where: str | Path) -> str:
    """The store cursor of an archive: its URL, or its resolved local path."""
    text = str(where)
    if "://" not in text:
        text = str(Path(text).resolve())
    return f"publicinbox:{text}"


def _git(gitdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", f"--git-dir={gitdir}", *args], capture_output=True, text=True, check=False)


def rev_parse(gitdir: Path, rev: str) -> str | None:
    out = _git(gitdir, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    return out.stdout.strip() if out.returncode == 0 else None


def count_commits(gitdir: Path, rev_range: str | None) -> int:
    """Commits in `rev_range` (or all of HEAD): the progress total (a few are deletions)."""
    out = _git(gitdir, "rev-list", "--count", rev_range or "HEAD", "--")
    if out.returncode != 0:
        return 0
    return int(out.stdout.strip() or 0)


@dataclass(frozen=True)
class Plan:
    """What one incremental run reads: `rev_range` None means all of HEAD."""

    gitdir: Path
    tip: str
    rev_range: str | None
    total: int


def plan(gitdir: Path, cursor: str | None) -> Plan | None:
    """The commits after `cursor` up to HEAD; None when there is nothing new.

    A cursor git no longer knows, or that is not an ancestor of HEAD (the
    archive was rewritten), restarts from the beginning: the store drops
    the Message-IDs it already has."""
    tip = rev_parse(gitdir, "HEAD")
    if tip is None:
        return None  # an empty repository
    if cursor == tip:
        return None
    rev_range = None
    if cursor:
        known = rev_parse(gitdir, cursor) is not None
        if known and _git(gitdir, "merge-base", "--is-ancestor", cursor, tip).returncode == 0:
            rev_range = f"{cursor}..{tip}"
        else:
            log.warning("%s: cursor %s is not in the history of HEAD; importing everything", gitdir, cursor)
    return Plan(gitdir=gitdir, tip=tip, rev_range=rev_range, total=count_commits(gitdir, rev_range or tip))


def _take(it: Iterator[RawMail], n: int) -> list[RawMail]:
    return list(islice(it, n))


async def run_plan(
    p: Plan,
    import_chunk: ImportChunk,
    save_cursor: SaveCursor,
    *,
    chunk: int = CHUNK,
    stop: asyncio.Event | None = None,
) -> int:
    """Import the plan's mails chunk by chunk, saving the cursor after each.

    Reading git runs in a thread so the event loop (the SMTP sink) keeps
    serving. Returns the number of mails handed to `import_chunk`; stops
    between chunks once `stop` is set."""
    # With no cursor iter_git reads HEAD; should HEAD move meanwhile, the next
    # run merely re-reads a few mails, which the store drops as duplicates.
    mails = iter_git(p.gitdir, p.rev_range)
    done = 0
    try:
        while True:
            if stop is not None and stop.is_set():
                return done
            batch = await asyncio.to_thread(_take, mails, chunk)
            if not batch:
                break
            await import_chunk(batch)
            done += len(batch)
            last = batch[-1].commit
            if last is None:
                raise SourceError(f"{p.gitdir}: a mail without a commit id ({batch[-1].ref})")
            await save_cursor(last)
        # All read: the tip itself may be a deletion (no mail), so the cursor
        # goes to the tip, not only to the last mail.
        await save_cursor(p.tip)
    finally:
        if isinstance(mails, Generator):
            mails.close()  # stops the git processes of an unfinished read
    return done
