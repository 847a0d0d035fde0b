"""Parsing and compressing bulk mail in a second process.

On the bulk path the main process tracks and writes; parsing (about 100 us a
mail) and zlib (about 75 us) move to one worker process, a batch ahead. zlib
stays out of the main process's threads: it releases the GIL for each mail
and then waits to take it back from the busy tracker (measured on kvmarm: a
batch's 1.6 s of zlib took 3-5 s beside the tracker, which waited for it).
With a parser the worker cannot import (a test's, the benchmark's cache) it
only compresses. Unpickling a slimmed ParsedMail costs about 15 us. The pool
starts on first use (a bulk import), never for the single-mail path, and is
shut down by `Store.close`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import zlib
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from bot.mail.models import ParsedMail

Parser = Callable[[bytes], ParsedMail]
# (parsed, or None when the parser raised; the exception's repr)
Worked = tuple[ParsedMail | None, str]
# (each mail's Worked, or None when the worker was given no parser; the compressed bytes)
Chunk = tuple[list[Worked] | None, list[bytes]]


_SLIM = {"body": "", "commit_message": ""}


def work_chunk(parser: Parser | None, raws: list[bytes], level: int, *, slim: bool = False) -> Chunk:
    """Parse (with a parser) and compress each mail; a parser crash is reported, never raised.
    `slim`: drop the body and commit message (what the tracker and the mail
    row need is parsed out of them already; the raw bytes are stored)."""
    zipped = [zlib.compress(raw, level) for raw in raws]
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
    """One worker process, started lazily. `parser`: None to compress only."""

    def __init__(self, parser: Parser | None) -> None:
        self._parser = parser
        self._pool: ProcessPoolExecutor | None = None

    @property
    def parses(self) -> bool:
        return self._parser is not None

    def submit(self, raws: list[bytes], level: int, *, slim: bool = False) -> asyncio.Future[Chunk]:
        if self._pool is None:
            # spawn, not fork: forking beside the database thread deadlocked in a
            # trial. Spawn re-imports the caller's __main__ (as __mp_main__),
            # so scripts that bulk-import need the usual __name__ guard.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return asyncio.wrap_future(self._pool.submit(work_chunk, self._parser, raws, level, slim=slim))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
