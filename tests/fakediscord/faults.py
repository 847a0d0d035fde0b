"""Fault injection: scripted REST failures and the outage switch.

A `RestFault` answers the next `count` matching REST requests with `status`
instead of serving them. Routes are matched by their template, written as
discord.py and Discord's docs write them: "POST /channels/{channel_id}/messages".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

OutageMode = Literal["503", "refuse"]


@dataclass
class RestFault:
    status: int = 429
    count: int = 1
    route: str | None = None  # "METHOD /template"; None matches every API route
    channel_id: int | None = None  # only requests on this channel (path parameter)
    retry_after: float = 0.05  # seconds, in the 429 body and Retry-After header
    is_global: bool = False
    scope: str = "user"  # X-RateLimit-Scope: user | global | shared
    via: bool = True  # False: a 429 without Via, i.e. what Cloudflare's ban looks like
    hits: int = field(default=0, init=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RestFault:
        known = {"status", "count", "route", "channel_id", "retry_after", "is_global", "scope", "via"}
        unknown = set(data) - known - {"global"}
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        kwargs = {k: v for k, v in data.items() if k in known}
        if "global" in data:
            kwargs["is_global"] = bool(data["global"])
        if kwargs.get("channel_id") is not None:
            kwargs["channel_id"] = int(kwargs["channel_id"])
        fault = cls(**kwargs)
        if not (fault.status == 429 or 500 <= fault.status <= 599):
            raise ValueError("status must be 429 or 5xx")
        if fault.count < 1:
            raise ValueError("count must be >= 1")
        return fault

    def matches(self, route: str, params: dict[str, str]) -> bool:
        if self.route is not None and self.route != route:
            return False
        if self.channel_id is not None and params.get("channel_id") != str(self.channel_id):
            return False
        return True

    def describe(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "remaining": self.count - self.hits,
            "route": self.route,
            "channel_id": self.channel_id,
            "retry_after": self.retry_after,
            "global": self.is_global,
            "scope": self.scope,
            "via": self.via,
        }


class Faults:
    """The pending REST faults (first match wins) and the outage switch."""

    def __init__(self) -> None:
        self.pending: list[RestFault] = []
        self.outage: OutageMode | None = None

    def add(self, fault: RestFault) -> RestFault:
        self.pending.append(fault)
        return fault

    def clear(self) -> None:
        self.pending.clear()
        self.outage = None

    def take(self, route: str, params: dict[str, str]) -> RestFault | None:
        """The fault to apply to this request, consuming one of its uses."""
        for fault in self.pending:
            if fault.matches(route, params):
                fault.hits += 1
                if fault.hits >= fault.count:
                    self.pending.remove(fault)
                return fault
        return None
