"""Which process delivers a channel, when several share one PostgreSQL.

A channel is delivered by one process at a time, so its posts keep their
order and none is made twice: the process holding the channel's session
advisory lock (`bot.store.pgsession`; PostgreSQL's SKIP LOCKED of a lock
table, without the table). A process claims a channel when it has deliveries
pending there, and keeps it until it stops or its connection is lost; a
process that dies loses its locks with its connection, and every other
process's sweep (every `sweep` seconds, and on each NOTIFY of new events)
claims what it owned. The new holder's first send in a channel is verified
(`once`): a post the dead process made but did not record is adopted, not
made again.

With sharding (`discord.shard_count`), a process claims only channels of
guilds on its own shards: (guild_id >> 22) % shard_count, as Discord assigns
guilds to shards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from bot.store import Store
from bot.store import delivery as q
from bot.store.pgsession import PgSession

log = logging.getLogger(__name__)

SWEEP = 1.0  # seconds between looks for channels nobody delivers (a process died)


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's shard for a guild (discord-api-docs, gateway.mdx "Sharding Formula")."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class Shards:
    count: int
    ids: frozenset[int]

    def holds(self, guild_id: int) -> bool:
        return shard_of(guild_id, self.count) in self.ids


class ChannelClaims:
    def __init__(
        self, store: Store, session: PgSession, *, shards: Shards | None = None, sweep: float = SWEEP
    ) -> None:
        self.store = store
        self.session = session
        self.shards = shards
        self.sweep = sweep
        self.held: set[int] = set()
        self._wanted: set[int] = set()
        self._kick = asyncio.Event()
        self._listeners: list[tuple[str, Callable[[], None]]] = []

    @classmethod
    async def open(cls, store: Store, *, shards: Shards | None = None, sweep: float = SWEEP) -> ChannelClaims:
        return cls(store, await PgSession.open(store.engine), shards=shards, sweep=sweep)

    def holds(self, channel_id: int) -> bool:
        return channel_id in self.held

    def want(self, channel_id: int) -> None:
        """Deliveries are pending in a channel this process does not hold: try to claim it."""
        self._wanted.add(channel_id)
        self._kick.set()

    async def listen(self, name: str, callback: Callable[[], None]) -> None:
        """A NOTIFY to follow on the claims' connection (again after a reconnect)."""
        self._listeners.append((name, callback))
        await self.session.listen(name, callback)

    async def run(self, claimed: Callable[[int], None], lost: Callable[[set[int]], None]) -> None:
        """Claim channels as they are wanted or found unowned; `claimed(channel)`
        starts delivering one; `lost(channels)` stops them (connection gone)."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.sweep):
                    await self._kick.wait()
            self._kick.clear()
            try:
                if not await self.session.ping():
                    await self._reconnect(lost)
                    continue
                for channel_id in await self._claim():
                    claimed(channel_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be briefly down: next sweep
                log.exception("claiming channels failed; retrying")

    async def _claim(self) -> list[int]:
        wanted = (self._wanted | set(await q.pending_channels(self.store))) - self.held
        self._wanted.clear()
        if self.shards is not None and wanted:
            guilds = await self._guilds()
            wanted = {c for c in wanted if (g := guilds.get(c)) is not None and self.shards.holds(g)}
        order = sorted(wanted)
        got = await self.session.try_locks([self.session.key("channel", c) for c in order])
        mine = [c for c, ok in zip(order, got, strict=True) if ok]
        self.held.update(mine)
        if mine:
            log.debug("claimed channels %s", mine)
        return mine

    async def _guilds(self) -> dict[int, int]:
        """channel id -> guild id, for every channel a subscription posts to (alerts too)."""
        out: dict[int, int] = {}
        for s in await self.store.list_subscriptions():
            out[s.channel_id] = s.guild_id
            if s.alert_channel_id is not None:
                out[s.alert_channel_id] = s.guild_id
        return out

    async def _reconnect(self, lost: Callable[[set[int]], None]) -> None:
        if self.held:
            log.error("lost the PostgreSQL connection holding channels %s: stopping their delivery", sorted(self.held))
        gone, self.held = self.held, set()
        lost(gone)
        with contextlib.suppress(Exception):
            await self.session.close()
        self.session = await PgSession.open(self.store.engine)
        for name, callback in self._listeners:
            await self.session.listen(name, callback)

    async def close(self) -> None:
        self.held.clear()
        await self.session.close()
