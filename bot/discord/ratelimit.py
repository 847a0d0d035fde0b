"""Per-user limits on the expensive commands (search, digest, stats).

A token bucket per (command, user): `rate` uses per `per` seconds, refilled
continuously. It keeps one user from making the bot re-read a month of mail
in a loop; Discord's own rate limits protect Discord, not our database.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

KEEP = 10_000  # buckets remembered; the least recently used beyond that are forgotten (they were full)


class UserLimits:
    def __init__(self, rate: int, per: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = max(rate, 1)
        self.per = per
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, int], tuple[float, float]] = OrderedDict()  # -> (tokens, at)

    def hit(self, command: str, user_id: int) -> float:
        """Take one use; 0.0 if allowed, else the seconds until the next use is."""
        now = self._clock()
        key = (command, user_id)
        tokens, at = self._buckets.pop(key, (float(self.rate), now))
        tokens = min(float(self.rate), tokens + (now - at) * self.rate / self.per)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) * self.per / self.rate
        self._buckets[key] = (tokens - 1.0, now)
        while len(self._buckets) > KEEP:
            self._buckets.popitem(last=False)
        return 0.0
