"""Deliveries that failed for good: recorded in the store, logged, and kept for status."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

from bot.store import DeliveryRow, Store
from bot.store import delivery as q

log = logging.getLogger(__name__)


class FailureLog:
    def __init__(self, store: Store, on_failure: Callable[[DeliveryRow, str], None] | None = None) -> None:
        self.store = store
        self.on_failure = on_failure
        self.latest: deque[tuple[DeliveryRow, str]] = deque(maxlen=100)

    async def fail(self, d: DeliveryRow, error: str) -> None:
        await q.settle(self.store, d.event_id, d.channel_id, "failed", error=error, attempted=True)
        log.error("delivery of event %s to channel %s failed for good: %s", d.event_id, d.channel_id, error)
        self.latest.append((d, error))
        if self.on_failure is not None:
            self.on_failure(d, error)
