"""Group commit: mails that arrive while a commit is running go into the next
one together, so one transaction's cost is shared under load.

At low load every mail commits alone at once; under load batches grow up to
`max_batch`. `submit()` returns only once the batch holding the item has
committed, and raises that batch's error, so each SMTP client still gets
its 250 only after its own mail is stored (or 451 if that commit failed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class GroupCommit(Generic[T]):
    def __init__(self, commit: Callable[[list[T]], Awaitable[None]], *, max_batch: int = 64) -> None:
        self._commit = commit
        self.max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0  # commits made, for figures

    async def submit(self, item: T) -> None:
        """Queue `item` and return once it is committed (raise if its commit failed)."""
        await asyncio.shield(self.enqueue(item))

    def enqueue(self, item: T) -> asyncio.Future[None]:
        """Queue `item`; the future is done when its batch has committed."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, fut))
        if self._flusher is None:
            # Its own task: a caller that is cancelled (client hung up) cannot
            # cancel a commit that holds other callers' mail.
            self._flusher = asyncio.create_task(self._flush(), name="group-commit")
        return fut

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                try:
                    await self._commit([item for item, _ in batch])
                except BaseException as exc:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError("commit cancelled"))
                    if not isinstance(exc, Exception):
                        raise
                else:
                    for _, fut in batch:
                        if not fut.done():
                            fut.set_result(None)
                self.batches += 1
        finally:
            self._flusher = None
            # Futures of a cancelled flush (loop shutting down) must not hang.
            for _, fut in self._pending:
                if not fut.done():
                    fut.set_exception(RuntimeError("group commit stopped"))
            self._pending.clear()
