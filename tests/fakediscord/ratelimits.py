"""Per-route rate-limit buckets that answer with Discord's X-RateLimit-* headers.

Buckets are keyed like Discord's: the route template plus its major parameter
(channel, guild or webhook). A client that ignores `Remaining: 0` gets a real
429 with scope "user", exactly as Discord would answer.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from dataclasses import dataclass

MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "application_id")


@dataclass
class Bucket:
    hash: str
    limit: int
    window: float
    remaining: int
    reset_at: float  # time.time()


class RateLimiter:
    def __init__(self, limit: int = 50, window: float = 1.0, global_per_second: int | None = None) -> None:
        self.limit = limit
        self.window = window
        self.global_per_second = global_per_second  # Discord's is 50; None: not enforced
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._recent: deque[float] = deque()

    def acquire_global(self) -> float | None:
        """Count one request against the global limit; the retry_after when over it."""
        if self.global_per_second is None:
            return None
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 1.0:
            self._recent.popleft()
        if len(self._recent) >= self.global_per_second:
            return max(0.001, round(1.0 - (now - self._recent[0]), 3))
        self._recent.append(now)
        return None

    @staticmethod
    def bucket_hash(route: str) -> str:
        return hashlib.sha1(route.encode()).hexdigest()[:32]

    def acquire(self, route: str, params: dict[str, str]) -> tuple[Bucket, bool]:
        """Count one request; returns the bucket and whether it was allowed."""
        major = ":".join(params.get(p, "") for p in MAJOR_PARAMETERS)
        key = (route, major)
        now = time.time()
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket.reset_at:
            bucket = Bucket(self.bucket_hash(route), self.limit, self.window, self.limit, now + self.window)
            self._buckets[key] = bucket
        if bucket.remaining <= 0:
            return bucket, False
        bucket.remaining -= 1
        return bucket, True

    @staticmethod
    def headers(bucket: Bucket) -> dict[str, str]:
        reset_after = max(0.0, bucket.reset_at - time.time())
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(bucket.remaining),
            "X-RateLimit-Reset": f"{bucket.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket.hash,
        }

    @staticmethod
    def retry_after(bucket: Bucket) -> float:
        return max(0.001, math.ceil((bucket.reset_at - time.time()) * 1000) / 1000)
