"""The lore poller: `git fetch` a public-inbox epoch into a local mirror, then
import the commits that arrived since the last poll.

For operators without a mail server. The mirror is a bare repository whose
HEAD is the fetched tip (refs/heads/lore), so a reader needs no remote names.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.ingest.gitimport import ImportChunk, cursor_name, plan, run_plan
from bot.ingest.publicinbox import is_git_dir

log = logging.getLogger(__name__)

MIRROR_REF = "refs/heads/lore"
LoadCursor = Callable[[str], Awaitable[str | None]]
StoreCursor = Callable[[str, str], Awaitable[None]]


class FetchError(Exception):
    """git could not create or update the mirror (network, bad URL)."""


@dataclass(frozen=True)
class PollResult:
    fetched: bool
    imported: int  # mails handed to the importer this poll


async def _git(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise FetchError(f"git {' '.join(args)}: {err.decode(errors='replace').strip()}")
    return out.decode()


class Poller:
    """One epoch URL, one mirror. `poll()` once; `run()` every `interval` seconds."""

    def __init__(
        self,
        url: str,
        mirror: Path,
        *,
        import_chunk: ImportChunk,
        load_cursor: LoadCursor,
        import_history: ImportChunk | None = None,
        save_cursor: StoreCursor,
        interval: float = 300.0,
        chunk: int = 500,
    ) -> None:
        self.url = url
        # Mails per commit: small enough that SMTP deliveries waiting on the
        # store between chunks wait well under a second.
        self.chunk = chunk
        self.mirror = mirror
        self.interval = interval
        self._import = import_chunk
        # The first import into an empty mirror is the archive's history: the
        # app stores it without announcing it (a channel must not get years of
        # old cards); later polls bring news.
        self._import_history = import_history or import_chunk
        self._load = load_cursor
        self._save = save_cursor
        self.cursor = cursor_name(url)
        self.stop_requested = asyncio.Event()
        # Set after every poll attempt, so a caller can wait for one (clear, then wait).
        self.polled = asyncio.Event()
        self.last_error: str | None = None

    async def fetch(self) -> None:
        if not is_git_dir(self.mirror):
            self.mirror.parent.mkdir(parents=True, exist_ok=True)
            await _git("init", "--quiet", "--bare", str(self.mirror))
            await _git(f"--git-dir={self.mirror}", "symbolic-ref", "HEAD", MIRROR_REF)
        # The remote's HEAD, whatever its branch is called; forced, since
        # public-inbox may rewrite an epoch to purge a mail.
        await _git(f"--git-dir={self.mirror}", "fetch", "--quiet", "--no-tags", self.url, f"+HEAD:{MIRROR_REF}")

    async def poll(self) -> PollResult:
        """Fetch, then import every commit after the cursor, saving it as it goes."""
        await self.fetch()
        cursor = await self._load(self.cursor)
        todo = plan(self.mirror, cursor)
        if todo is None:
            return PollResult(fetched=True, imported=0)
        log.info("poller: %d new commits from %s", todo.total, self.url)

        async def save(commit: str) -> None:
            await self._save(self.cursor, commit)

        importer = self._import if cursor is not None else self._import_history
        n = await run_plan(todo, importer, save, chunk=self.chunk, stop=self.stop_requested)
        return PollResult(fetched=True, imported=n)

    async def run(self) -> None:
        """Poll until `stop()`. A failed poll is logged and retried next interval."""
        while not self.stop_requested.is_set():
            try:
                result = await self.poll()
                self.last_error = None
                if result.imported:
                    log.info("poller: imported %d mails", result.imported)
            except Exception as exc:
                self.last_error = str(exc)
                log.exception("poller: polling %s failed; retrying in %.0f s", self.url, self.interval)
            self.polled.set()
            try:
                await asyncio.wait_for(self.stop_requested.wait(), self.interval)
            except TimeoutError:
                pass

    def stop(self) -> None:
        """Ask `run()` to end after the chunk in progress (its commit finishes)."""
        self.stop_requested.set()
