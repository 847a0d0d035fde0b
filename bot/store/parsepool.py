"""Parsing and compressing bulk mail in worker processes.

On the bulk path the main process tracks and writes; parsing (about 100 us a
mail, 55 compiled) and compressing (`rawcodec`, about 20 us) move to worker
processes (two, see PROCESSES), a batch each ahead. Compression stays out of
the main process's threads: it releases the GIL for each mail and then waits
to take it back from the busy tracker (measured on kvmarm with zlib: a
batch's 1.6 s of compression took 3-5 s beside the tracker, which waited).
With a parser the worker cannot import (a test's, the benchmark's cache) it
only compresses. Unpickling a slimmed ParsedMail costs about 15 us. The pool
starts on first use (a bulk import), never for the single-mail path, and is
shut down by `Store.close`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from bot.mail.models import ParsedMail
from bot.store.rawcodec import pack_all

Parser = Callable[[bytes], ParsedMail]
# (parsed, or None when the parser raised; the exception's repr)
Worked = tuple[ParsedMail | None, str]
# (each mail's Worked, or None when the worker was given no parser; the compressed bytes)
Chunk = tuple[list[Worked] | None, list[bytes]]


_SLIM = {"body": "", "commit_message": ""}
# Parsing workers: on kvmarm with 2 cores one worker (parse + zlib then, ~190 us a
# mail) was the bottleneck while the main process (~110 us) left part of a core
# idle; two took ingest from ~4,500 to ~4,950 mails/s. Each costs its memory
# (~100 MB) and keeps a batch in flight (~10 MB more here), so no more than that.
PROCESSES = min(2, os.cpu_count() or 1)


def work_chunk(parser: Parser | None, raws: list[bytes], *, slim: bool = False) -> Chunk:
    """Parse (with a parser) and compress each mail; a parser crash is reported, never raised.
    `slim`: drop the body and commit message (what the tracker and the mail
    row need is parsed out of them already; the raw bytes are stored)."""
    zipped = pack_all(raws)
    if parser is None:
        return None, zipped
    out: list[Worked] = []
    for raw in raws:
        try:
            mail = parser(raw)
            # the texts are most of the pickle; the bulk path never reads them
            parsed: ParsedMail | None = mail.model_copy(update=_SLIM) if slim else mail
            crash = ""
        except Exception as exc:  # the parent keeps the mail as unparseable
            parsed, crash = None, repr(exc)
        out.append((parsed, crash))
    return out, zipped


class ParsePool:
    """Worker processes, started lazily. `parser`: None to compress only."""

    def __init__(self, parser: Parser | None, processes: int | None = None) -> None:
        self._parser = parser
        # Compressing alone (~95 us a mail) one worker outpaces the tracker; a
        # second one only took CPU from it (store benchmark: 9,900 -> 8,800 mails/s).
        self.processes = processes or (PROCESSES if parser is not None else 1)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def parses(self) -> bool:
        return self._parser is not None

    def submit(self, raws: list[bytes], *, slim: bool = False) -> asyncio.Future[Chunk]:
        if self._pool is None:
            # spawn, not fork: forking beside the database thread deadlocked in a
            # trial. Spawn re-imports the caller's __main__ (as __mp_main__),
            # so scripts that bulk-import need the usual __name__ guard.
            self._pool = ProcessPoolExecutor(
                max_workers=self.processes, mp_context=multiprocessing.get_context("spawn")
            )
        return asyncio.wrap_future(self._pool.submit(work_chunk, self._parser, raws, slim=slim))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
