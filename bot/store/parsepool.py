"""Parsing and compressing bulk mail in worker processes.

On the bulk path the main process tracks and writes; parsing (about 75 us a
mail, 46 compiled), compressing (`rawcodec`, about 20 us) and the hashes the
rows keep (the body's, 7 us, and a patch's diff files', 17 us) move to a
worker process (one, see PROCESSES), a batch ahead. Compression stays out of
the main process's threads: it releases the GIL for each mail and then waits
to take it back from the busy tracker (measured on kvmarm with zlib: a
batch's 1.6 s of compression took 3-5 s beside the tracker, which waited).
With a parser the worker cannot import (a test's, the benchmark's cache) it
only compresses (and hashes). Unpickling a slimmed ParsedMail costs about 5 us
(`bot.mail.models._Frozen.__reduce__`). The pool
starts on first use (a bulk import), never for the single-mail path, and is
shut down by `Store.close`.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import sys
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import NamedTuple

from bot.mail.construct import construct
from bot.mail.diff import find_diff
from bot.mail.models import ParsedMail
from bot.series.diffhash import normalised_files
from bot.store.rawcodec import pack_all
from bot.store.rows import body_hash

Parser = Callable[[bytes], ParsedMail]
# (parsed, or None when the parser raised; the exception's repr; for a mail
# with a diff, `normalised_files` of the (slim) body, what its patch row
# stores, else None)
Worked = tuple[ParsedMail | None, str, dict[str, str] | None]


class Chunk(NamedTuple):
    """A batch's mails as the worker (or the compressing thread) hands them back."""

    worked: list[Worked] | None  # each mail's, or None when the worker was given no parser
    packed: list[bytes]  # each raw mail as the store keeps it (rawcodec)
    # each raw mail's `body_hash`, or None where the caller computes it (the thread)
    hashes: list[str] | None = None


# What the bulk path never reads (bot.series and the rows read neither, but for a patch's diff): the
# texts are most of the pickle; the recipients, attachments, warnings and the
# computed diffstat are most of the small models left (pickled, sent and
# unpickled one by one). The raw bytes are stored, so nothing is lost.
_SLIM = {
    "body": "",
    "commit_message": "",
    "to": (),
    "cc": (),
    "attachments": (),
    "warnings": (),
    "diffstat_computed": None,
}
# Parsing workers. Two paid off while one (parse + zlib, ~190 us a mail) was the
# bottleneck. With the compiled parser and zstd one does the work again: on
# kvmarm with 2 cores, two and one ran at the same rate (6,043 / 6,224 vs
# 6,144 / 6,065 mails/s, alternating), where the second cost ~20 MB of the main
# process's peak RSS (a batch more in flight: 204 -> 184 MB) and ~0.15 s of CPU
# (its start-up) that the other processes on the two cores need.
PROCESSES = 1


def slim_mail(mail: ParsedMail) -> ParsedMail:
    """`mail` without what the bulk path never reads (`_SLIM`); of the body, a
    patch keeps its diff (the store hashes it: `bot.series.diffhash`)."""
    slim = construct(ParsedMail, {**mail.__dict__, **_SLIM})
    if mail.has_diff:
        start = find_diff(mail.body)
        if start != -1:
            slim = construct(ParsedMail, {**slim.__dict__, "body": mail.body[start:]})
    return slim


def work_chunk(parser: Parser | None, raws: list[bytes], *, slim: bool = False) -> Chunk:
    """Parse (with a parser), hash and compress each mail; a parser crash is
    reported, never raised. `slim`: drop what the bulk path never reads
    (`_SLIM`). The body hashes and a patch's file hashes are per-mail work the
    store's single thread did before (a sixth of it on kvmarm); the worker has
    the time. (In the worker the cyclic GC is off: see `_worker_start`.)"""
    zipped = pack_all(raws)
    hashes = [body_hash(raw) for raw in raws]
    if parser is None:
        return Chunk(None, zipped, hashes)
    out: list[Worked] = []
    for raw in raws:
        try:
            mail = parser(raw)
            parsed: ParsedMail | None = slim_mail(mail) if slim else mail
            crash = ""
        except Exception as exc:  # the parent keeps the mail as unparseable
            parsed, crash = None, repr(exc)
        # (outside the try: a failure here fails the batch, as it did in the store)
        files = normalised_files(parsed.body) if parsed is not None and parsed.has_diff else None
        out.append((parsed, crash, files))
    return Chunk(out, zipped, hashes)


def _worker_start() -> None:
    """A worker process's initializer: no automatic cyclic GC in it.

    Between chunks the executor pickles a batch's results while they are all
    alive, and the collections that allocation triggered rescanned them and the
    libraries' objects: ~5% of the whole import's CPU on kvmarm, spent in the
    process that bounds the rate. `_pooled_chunk` collects once a chunk instead."""
    gc.disable()


def _pooled_chunk(parser: Parser | None, raws: list[bytes], *, slim: bool) -> Chunk:
    # The previous chunk's results are gone by now: collect whatever cycles it
    # left, then freeze the survivors (the parser's bounded caches) so the next
    # collection does not rescan them.
    gc.collect()
    gc.freeze()
    return work_chunk(parser, raws, slim=slim)


@contextmanager
def _main_hidden() -> Iterator[None]:
    """A spawned child re-imports the parent's __main__ (as __mp_main__) unless it
    has neither a file nor a spec; the worker needs nothing of it. For the
    `kvm-patchbot` script that import is all of `bot.cli` (the service,
    discord.py, SQLAlchemy: 0.4 s), and a script calling the Store without
    the usual __name__ guard would run again in the worker."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _retrieved(future: asyncio.Future[Chunk]) -> None:
    if not future.cancelled():
        future.exception()  # a failed start shows at the next submit; not logged as never retrieved


class ParsePool:
    """Worker processes, started lazily. `parser`: None to compress only."""

    def __init__(self, parser: Parser | None, processes: int | None = None) -> None:
        self._parser = parser
        # Compressing alone one worker outpaces the tracker; a second one only
        # took CPU from it (store benchmark: 9,900 -> 8,800 mails/s).
        self.processes = processes or PROCESSES
        self._pool: ProcessPoolExecutor | None = None

    @property
    def parses(self) -> bool:
        return self._parser is not None

    def start(self) -> None:
        """Start the worker now: it takes 0.15 s or more to import the parser,
        which the caller can spend reading its first batch."""
        try:
            started = self.submit([])
        except BrokenProcessPool:
            return  # the batches' own submits meet it, and the import goes on without
        started.add_done_callback(_retrieved)

    def submit(self, raws: list[bytes], *, slim: bool = False) -> asyncio.Future[Chunk]:
        if self._pool is None:
            # spawn, not fork: forking beside the database thread deadlocked in a trial.
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_worker_start,
            )
            with _main_hidden():  # the first submit starts the worker
                started = self._pool.submit(_pooled_chunk, self._parser, raws, slim=slim)
            return asyncio.wrap_future(started)
        return asyncio.wrap_future(self._pool.submit(_pooled_chunk, self._parser, raws, slim=slim))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
