"""The lore poller: `git fetch` a public-inbox epoch into a local mirror, then
import the commits that arrived since the last poll.

For operators without a mail server. The mirror is a bare repository whose
HEAD is the fetched tip (refs/heads/lore), so a reader needs no remote names.

public-inbox starts a new epoch (`.../git/1.git` after `.../git/0.git`) when
one grows too big, and new mail goes only there. Left on the old epoch, the
poller would fall silent without an error, so after each poll it asks whether
the next epoch exists and, once it does, finishes the old one and moves on;
the epoch it follows is saved in the store, so a restart resumes there.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.ingest.gitimport import ImportChunk, cursor_name, plan, run_plan
from bot.ingest.publicinbox import is_git_dir

log = logging.getLogger(__name__)

MIRROR_REF = "refs/heads/lore"
LoadCursor = Callable[[str], Awaitable[str | None]]
StoreCursor = Callable[[str, str], Awaitable[None]]


# An epoch URL ends in its number: https://lore.kernel.org/kvm/1 or .../kvm/git/1.git
_EPOCH = re.compile(r"^(?P<base>.*/)(?P<n>\d+)(?P<tail>(?:\.git)?/?)$")


def next_epoch_url(url: str) -> str | None:
    """The URL of the epoch after `url`'s, or None if `url` names no epoch number."""
    m = _EPOCH.match(url)
    if m is None:
        return None
    return f"{m['base']}{int(m['n']) + 1}{m['tail']}"


class FetchError(Exception):
    """git could not create or update the mirror (network, bad URL)."""


@dataclass(frozen=True)
class PollResult:
    fetched: bool
    imported: int  # mails handed to the importer this poll
    epoch_url: str | None = None  # the epoch followed after this poll, when it moved on


async def _git(*args: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        "git", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise FetchError(f"git {' '.join(args)}: {err.decode(errors='replace').strip()}")
    return out.decode()


async def _exists(url: str) -> bool:
    """Whether `url` is a repository git can read (one cheap request for its HEAD).
    A failure counts as not yet: the epoch is asked for again at the next poll."""
    try:
        return bool((await _git("ls-remote", "--quiet", url, "HEAD")).strip())
    except FetchError:
        return False


class Poller:
    """A lore inbox from one epoch URL on, one mirror. `poll()` once; `run()` every
    `interval` seconds. `url` is the configured epoch; `self.url` the followed one."""

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
        # Where the followed epoch is saved: keyed by the configured URL, so a
        # new configuration starts from what it names.
        self._epoch_key = f"lore-epoch:{url}"
        self._resumed = False
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
        # public-inbox may rewrite an epoch to purge a mail (and the next
        # epoch's history is not the last one's).
        await _git(f"--git-dir={self.mirror}", "fetch", "--quiet", "--no-tags", self.url, f"+HEAD:{MIRROR_REF}")

    async def poll(self) -> PollResult:
        """Fetch, then import every commit after the cursor, saving it as it goes;
        then the same for each newer epoch that exists."""
        if not self._resumed:
            saved = await self._load(self._epoch_key)
            if saved is not None and saved != self.url:
                log.info("poller: resuming at epoch %s", saved)
                self._follow(saved)
            self._resumed = True
        imported, history = await self._poll_epoch(history=None)
        moved = False
        while not self.stop_requested.is_set():
            nxt = next_epoch_url(self.url)
            if nxt is None or not await _exists(nxt):
                break
            log.info("poller: %s has a successor, %s: following it", self.url, nxt)
            self._follow(nxt)
            await self._save(self._epoch_key, nxt)
            moved = True
            # A new epoch found while catching up on the past is past too;
            # found later, its mails are news.
            got, _ = await self._poll_epoch(history=history)
            imported += got
        return PollResult(fetched=True, imported=imported, epoch_url=self.url if moved else None)

    def _follow(self, url: str) -> None:
        self.url = url
        self.cursor = cursor_name(url)

    async def _poll_epoch(self, *, history: bool | None) -> tuple[int, bool]:
        """Poll the followed epoch; returns (mails imported, whether as history).
        `history` None: history if nothing of this epoch was imported before."""
        await self.fetch()
        cursor = await self._load(self.cursor)
        if history is None:
            history = cursor is None
        todo = plan(self.mirror, cursor)
        if todo is None:
            return 0, history
        log.info("poller: %d new commits from %s", todo.total, self.url)

        async def save(commit: str) -> None:
            await self._save(self.cursor, commit)

        importer = self._import_history if history else self._import
        return await run_plan(todo, importer, save, chunk=self.chunk, stop=self.stop_requested), history

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
