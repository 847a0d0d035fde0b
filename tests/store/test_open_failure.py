"""A store that cannot open fails cleanly: nothing of aiosqlite outlives the error.

aiosqlite 0.22 leaves a failed connection's worker thread one step to run,
with a reply due to the event loop. When `asyncio.run` closed the loop first
(as the CLI does right after printing its one-line error), that thread died
with a twenty-line traceback on stderr, about one run in eight here.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from bot.store import Store
from bot.store.engine import sqlite_threads

RUNS = 20  # the race was lost about once in eight runs; a thread still alive is caught at once


def test_a_store_that_cannot_open_leaves_no_thread_to_fail_after_the_loop(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file where a directory should be")
    url = f"sqlite:///{tmp_path / 'file' / 'store.db'}"
    died: list[BaseException | None] = []
    hook = threading.excepthook
    threading.excepthook = lambda args: died.append(args.exc_value)
    try:
        for _ in range(RUNS):
            before = sqlite_threads()
            with pytest.raises(Exception, match="unable to open database file"):
                asyncio.run(Store.open(url))  # the loop closes at once, as in the CLI
            left = sqlite_threads() - before
            assert [t for t in left if t.is_alive()] == []  # done before the loop closed
            for t in left:
                t.join(5)
    finally:
        threading.excepthook = hook
    assert died == []
