"""Parsing bulk mail in a second process.

On the bulk path the main process tracks and writes; parsing (about 100 us a
mail) moves to one worker process, a batch ahead. zlib stays in the main
process, in a thread (it releases the GIL): in the worker it made that process
the bottleneck on kvmarm (220 us a mail against the main process's 130), and
the compressed bytes had to come back through the pipe. Unpickling a
ParsedMail costs about 15 us. The pool starts on first use (a bulk import),
never for the single-mail path, and is shut down by `Store.close`.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from bot.mail.models import ParsedMail

Parser = Callable[[bytes], ParsedMail]
# (parsed, or None when the parser raised; the exception's repr)
Worked = tuple[ParsedMail | None, str]


_SLIM = {"body": "", "commit_message": ""}


def work_chunk(parser: Parser, raws: list[bytes], *, slim: bool = False) -> list[Worked]:
    """Parse each mail; a parser crash is reported, never raised.
    `slim`: drop the body and commit message (what the tracker and the mail
    row need is parsed out of them already; the raw bytes are stored)."""
    out: list[Worked] = []
    for raw in raws:
        try:
            parsed: ParsedMail | None = parser(raw)
            if slim:  # the texts are most of the pickle; the bulk path never reads them
                parsed = parsed.model_copy(update=_SLIM)
            crash = ""
        except Exception as exc:  # the parent keeps the mail as unparseable
            parsed, crash = None, repr(exc)
        out.append((parsed, crash))
    return out


class ParsePool:
    """One worker process, started lazily."""

    def __init__(self, parser: Parser) -> None:
        self._parser = parser
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, raws: list[bytes], *, slim: bool = False) -> asyncio.Future[list[Worked]]:
        if self._pool is None:
            # spawn, not fork: forking beside the database thread deadlocked in a
            # trial. Spawn re-imports the caller's __main__ (as __mp_main__),
            # so scripts that bulk-import need the usual __name__ guard.
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        return asyncio.wrap_future(self._pool.submit(work_chunk, self._parser, raws, slim=slim))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
