"""Per-route rate-limit buckets and the global limit, announced in Discord's X-RateLimit-* headers.

Sources: discord-api-docs developers/topics/rate-limits.mdx.
* "Per-route rate limits ... account for top-level resources within the path
  ... limited to channels (channel_id), guilds (guild_id), and webhooks":
  buckets are keyed by route and major parameter.
* "All bots can make up to 50 requests per second to our API ... Interaction
  endpoints are not bound to the bot's Global Rate Limit."
* The headers come on every answer of a limited route, errors included ("Note
  that normal route rate-limiting headers will also be sent in this response").
* Message create is limited per channel to 5 per 5 seconds (the docs' own header
  example shows `X-RateLimit-Limit: 5`; discord-facts.md: "Message create is
  limited per channel (about 5 per 5 s)"); message edits share that figure.
  Discord does not publish the other routes' figures, so those get a roomy default.
* "IP addresses that make too many invalid HTTP requests [401, 403, 429] are
  automatically and temporarily restricted ... 10,000 per 10 minutes";
  "429 errors returned with X-RateLimit-Scope: shared are not counted".

A client that ignores `Remaining: 0` gets a real 429 with scope "user", as on
Discord. `RateLimits.discord()` is the default; tests that are not about rate
limits shorten every window with `.scaled(f)` (same counts, windows times f)
instead of waiting Discord's seconds.
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from .clock import FakeClock

MAJOR_PARAMETERS = ("channel_id", "guild_id", "webhook_id", "application_id")
MESSAGES = "POST /channels/{channel_id}/messages"
EDIT_MESSAGE = "PATCH /channels/{channel_id}/messages/{message_id}"


@dataclass(frozen=True)
class RateLimits:
    """Route template -> (requests, seconds); `default` for the rest; the global limit."""

    routes: Mapping[str, tuple[int, float]] = field(default_factory=dict)
    default: tuple[int, float] = (50, 1.0)
    global_limit: tuple[int, float] | None = (50, 1.0)
    invalid_limit: tuple[int, float] = (10_000, 600.0)

    @classmethod
    def discord(cls) -> RateLimits:
        return cls(routes={MESSAGES: (5, 5.0), EDIT_MESSAGE: (5, 5.0)})

    def scaled(self, factor: float) -> RateLimits:
        """The same counts over windows `factor` times as long (0.02: 5 posts per 0.1 s)."""
        def s(limit: tuple[int, float]) -> tuple[int, float]:
            return limit[0], limit[1] * factor

        return replace(
            self,
            routes={k: s(v) for k, v in self.routes.items()},
            default=s(self.default),
            global_limit=None if self.global_limit is None else s(self.global_limit),
        )

    def for_route(self, route: str) -> tuple[int, float]:
        return self.routes.get(route, self.default)


@dataclass
class Bucket:
    hash: str
    limit: int
    window: float
    remaining: int
    reset_at: float  # clock time


class RateLimiter:
    def __init__(self, limits: RateLimits | None = None, clock: FakeClock | None = None) -> None:
        self.limits = limits or RateLimits.discord()
        self.clock = clock or FakeClock()
        self._buckets: dict[tuple[str, str], Bucket] = {}
        self._recent: deque[float] = deque()
        self._invalid: deque[float] = deque()

    # kept for callers that read these (control, tests)
    @property
    def global_per_second(self) -> int | None:
        return None if self.limits.global_limit is None else self.limits.global_limit[0]

    def acquire_global(self) -> float | None:
        """Count one request against the global limit; the retry_after when over it."""
        if self.limits.global_limit is None:
            return None
        count, window = self.limits.global_limit
        now = self.clock.monotonic()
        while self._recent and now - self._recent[0] >= window:
            self._recent.popleft()
        if len(self._recent) >= count:
            return max(0.001, round(window - (now - self._recent[0]), 3))
        self._recent.append(now)
        return None

    def count_invalid(self) -> None:
        self._invalid.append(self.clock.monotonic())

    def banned(self) -> bool:
        """Over the invalid-request limit: Cloudflare answers for a while instead of Discord."""
        count, window = self.limits.invalid_limit
        now = self.clock.monotonic()
        while self._invalid and now - self._invalid[0] >= window:
            self._invalid.popleft()
        return len(self._invalid) >= count

    @staticmethod
    def bucket_hash(route: str) -> str:
        return hashlib.sha1(route.encode()).hexdigest()[:32]

    def acquire(self, route: str, params: dict[str, str]) -> tuple[Bucket, bool]:
        """Count one request; returns the bucket and whether it was allowed."""
        major = ":".join(params.get(p, "") for p in MAJOR_PARAMETERS)
        key = (route, major)
        now = self.clock.time()
        bucket = self._buckets.get(key)
        if bucket is None or now >= bucket.reset_at:
            limit, window = self.limits.for_route(route)
            bucket = Bucket(self.bucket_hash(route), limit, window, limit, now + window)
            self._buckets[key] = bucket
        if bucket.remaining <= 0:
            return bucket, False
        bucket.remaining -= 1
        return bucket, True

    def headers(self, bucket: Bucket) -> dict[str, str]:
        reset_after = max(0.0, bucket.reset_at - self.clock.time())
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(bucket.remaining),
            "X-RateLimit-Reset": f"{bucket.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": bucket.hash,
        }

    def retry_after(self, bucket: Bucket) -> float:
        return max(0.001, math.ceil((bucket.reset_at - self.clock.time()) * 1000) / 1000)
