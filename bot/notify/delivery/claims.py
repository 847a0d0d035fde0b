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

Channels are spread evenly, again with nothing but PostgreSQL's locks: every
process also holds one shared "members" lock, so pg_locks tells each sweep
how many processes deliver and how many channels each holds. A process takes
an unowned channel while that keeps it at or under an even share; past it,
only a channel left unowned for `grace` seconds (so none waits long if the
others cannot take it). A process holding more than its share while another
holds less gives up channels that are idle (nothing sent, owed or held back
there), or marks busy ones to be given up the moment they are idle; the
others take them when their next deliveries are pending. So a process
started beside a busy one gets its share of the work.

With sharding (`discord.shard_count`), a process claims only channels of
guilds on its own shards: (guild_id >> 22) % shard_count, as Discord assigns
guilds to shards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.store import Store
from bot.store import delivery as q
from bot.store.pgsession import PgSession

log = logging.getLogger(__name__)

SWEEP = 1.0  # seconds between looks for channels nobody delivers (a process died)
GRACE = 5.0  # seconds an unowned channel waits for a process under its share before any takes it


def shard_of(guild_id: int, shard_count: int) -> int:
    """Discord's shard for a guild (discord-api-docs, gateway.mdx "Sharding Formula")."""
    return (guild_id >> 22) % shard_count


@dataclass(frozen=True)
class Shards:
    count: int
    ids: frozenset[int]

    def holds(self, guild_id: int) -> bool:
        return shard_of(guild_id, self.count) in self.ids


def members_key(session: PgSession, shards: Shards | None) -> int:
    """The shared lock of the processes that share channels: those of the same shards."""
    return session.key("members", *([] if shards is None else [shards.count, *sorted(shards.ids)]))


def allowance(mine: int, held: int, unowned: int, members: int) -> int:
    """How many of `unowned` channels a process holding `mine` may take and
    stay within an even share, when the `members` processes hold `held` in all."""
    if members <= 1:
        return unowned  # alone: every channel is its share
    return max(0, min(unowned, math.ceil((held + unowned) / members) - mine))


def excess(mine: int, others: list[int]) -> int:
    """Channels to give up: what this process holds over an even share, as
    far as another process is under it (0 when none is)."""
    if not others:
        return 0
    share = math.ceil((mine + sum(others)) / (len(others) + 1))
    return max(0, min(mine - share, share - min(others)))


class ChannelClaims:
    def __init__(
        self,
        store: Store,
        session: PgSession,
        *,
        shards: Shards | None = None,
        sweep: float = SWEEP,
        grace: float = GRACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.session = session
        self.shards = shards
        self.sweep = sweep
        self.grace = grace
        self.clock = clock
        self.held: set[int] = set()
        self._wanted: set[int] = set()
        self._unowned_since: dict[int, float] = {}  # channel -> when first seen wanted and unowned
        self._kick = asyncio.Event()
        self._listeners: list[tuple[str, Callable[[], None]]] = []
        self._members = members_key(session, shards)

    @classmethod
    async def open(
        cls, store: Store, *, shards: Shards | None = None, sweep: float = SWEEP, grace: float = GRACE
    ) -> ChannelClaims:
        session = await PgSession.open(store.engine)
        claims = cls(store, session, shards=shards, sweep=sweep, grace=grace)
        try:
            await session.join(claims._members)
        except BaseException:
            await session.close()
            raise
        return claims

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

    async def run(
        self,
        claimed: Callable[[int], None],
        lost: Callable[[set[int]], None],
        release: Callable[[int], set[int]] | None = None,
    ) -> None:
        """Claim channels as they are wanted or found unowned; `claimed(channel)`
        starts delivering one; `lost(channels)` stops them (connection gone);
        `release(n)` stops up to n idle channels and names them, to be given
        up for an even share (`rebalance`)."""
        balanced_at = self.clock()
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.sweep):
                    await self._kick.wait()
            self._kick.clear()
            try:
                if not await self.session.ping():
                    await self._reconnect(lost)
                    continue
                for channel_id in await self.claim():
                    claimed(channel_id)
                if release is not None and self.clock() - balanced_at >= self.sweep:
                    balanced_at = self.clock()
                    await self.rebalance(release)
            except asyncio.CancelledError:
                raise
            except Exception:  # the store may be briefly down: next sweep
                log.exception("claiming channels failed; retrying")

    async def claim(self) -> list[int]:
        """Take the wanted channels nobody holds, as far as an even share allows
        (or any left unowned for `grace`); the channels now held here."""
        wanted = (self._wanted | set(await q.pending_channels(self.store))) - self.held
        self._wanted.clear()
        if self.shards is not None and wanted:
            guilds = await self._guilds()
            wanted = {c for c in wanted if (g := guilds.get(c)) is not None and self.shards.holds(g)}
        keys = {c: self.session.key("channel", c) for c in wanted}
        free = await self.session.unheld(list(keys.values()))
        unowned = [c for c in wanted if keys[c] in free]
        now = self.clock()
        self._unowned_since = {c: self._unowned_since.get(c, now) for c in unowned}
        if not unowned:
            return []
        counts = await self.session.members(self._members)
        others = [n for pid, n in counts.items() if pid != self.session.pid]
        room = allowance(len(self.held), len(self.held) + sum(others), len(unowned), len(others) + 1)
        # Each process in its own order, so two under their share rarely reach for the same channel.
        unowned.sort(key=lambda c: hash((self.session.pid, c)))
        take = set(unowned[:room]) | {c for c in unowned if now - self._unowned_since[c] >= self.grace}
        order = sorted(take)
        got = await self.session.try_locks([keys[c] for c in order])
        mine = [c for c, ok in zip(order, got, strict=True) if ok]
        self.held.update(mine)
        for c in mine:
            del self._unowned_since[c]
        if mine:
            log.debug("claimed channels %s", mine)
        return mine

    async def rebalance(self, release: Callable[[int], set[int]]) -> set[int]:
        """Give up idle channels held over an even share while another process
        holds less than it; the channels given up now (`release(n)` may mark
        busy ones to follow as they fall idle, through `give_up`; `release(0)`
        when the share is even)."""
        if not self.held:
            return set()
        counts = await self.session.members(self._members)
        n = excess(len(self.held), [k for pid, k in counts.items() if pid != self.session.pid])
        return await self.give_up(release(n))

    async def give_up(self, channels: set[int]) -> set[int]:
        """Unlock channels whose delivery here has stopped, for others to claim."""
        # Out of `held` before any await: from here this process neither delivers them nor claims them back.
        given = channels & self.held
        if not given:
            return set()
        self.held -= given
        try:
            await self.session.unlock_many([self.session.key("channel", c) for c in sorted(given)])
        except BaseException:
            self.session.lost.set()  # locks in an unknown state: the reconnect drops them all
            raise
        log.info("gave up channels %s for an even share", sorted(given))
        return given

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
        await self.session.join(self._members)
        for name, callback in self._listeners:
            await self.session.listen(name, callback)

    async def close(self) -> None:
        self.held.clear()
        await self.session.close()
