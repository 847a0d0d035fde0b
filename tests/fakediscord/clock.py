"""The fake's clock: real time plus an offset a test can advance.

Everything in the fake that Discord measures in minutes or hours reads this
clock: message age (the 30046 limit on edits of messages older than an hour),
the enforce_nonce window, thread auto-archive, snowflake timestamps. A test
moves it forward with `fake.advance(seconds)` instead of waiting. Rate-limit
buckets read it too, so an advance also expires them; their windows are
announced in real seconds (discord.py sleeps on them), so tests shorten those
with `RateLimits.scaled` rather than by advancing.
"""

from __future__ import annotations

import time


class FakeClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        """Seconds since the epoch, as Discord's servers would read them."""
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds

    def iso(self, at: float | None = None) -> str:
        """An ISO-8601 timestamp with microseconds, as Discord writes them."""
        t = self.time() if at is None else at
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1e6) % 1000000:06d}+00:00"
