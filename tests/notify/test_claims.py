"""Channel claims spread evenly over the processes on one PostgreSQL, with
nothing but its advisory locks (bot.notify.delivery.claims): a process that
joins late gets its share, one over its share gives up idle channels, and
none is ever held by two."""

from __future__ import annotations

import asyncio
import io

import pytest
from bot.notify.delivery.claims import ChannelClaims, allowance, excess
from bot.notify.delivery.worker import DeliveryWorker
from bot.notify.preview import PreviewSink
from bot.store import Store


@pytest.mark.parametrize(("mine", "held", "unowned", "members", "want"), [
    (0, 0, 10, 1, 10),   # alone: everything
    (0, 0, 10, 2, 5),    # two starting together: half each
    (0, 5, 5, 2, 5),     # the other took its half: the rest
    (5, 5, 5, 2, 0),     # at an even share already
    (0, 6, 1, 2, 1),     # under it
    (3, 3, 4, 3, 0),     # 7 over 3: a share of 3 (ceil), held already
    (0, 0, 0, 2, 0),
])
def test_allowance_keeps_an_even_share(mine: int, held: int, unowned: int, members: int, want: int) -> None:
    assert allowance(mine, held, unowned, members) == want


@pytest.mark.parametrize(("mine", "others", "want"), [
    (6, [], 0),       # alone
    (6, [0], 3),      # a process joined: half of it goes
    (5, [0], 2),      # 5 over 2: shares 3 and 2
    (3, [2], 0),      # even as it can be
    (10, [0, 0], 4),  # 10 over 3: share 4; as far as one other is under it now, more on a later sweep
    (4, [4, 0], 1),   # 8 over 3: share 3, so both at 4 give one
])
def test_excess_is_what_is_held_over_an_even_share(mine: int, others: list[int], want: int) -> None:
    got = excess(mine, others)
    assert got == want
    share = -(-(mine + sum(others)) // (len(others) + 1))
    assert mine - got >= min([share, *others])  # never gives up so much that it falls below the others


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def claims(store: Store, clock: Clock | None = None) -> ChannelClaims:
    c = await ChannelClaims.open(store)
    if clock is not None:
        c.clock = clock
    return c


async def want(c: ChannelClaims, channels: range | list[int]) -> list[int]:
    for ch in channels:
        c.want(ch)
    return await c.claim()


def first(n: int, idle: set[int]) -> set[int]:
    return set(sorted(idle)[:n])


@pytest.mark.pg
async def test_two_processes_starting_together_split_the_channels(pg_store: Store) -> None:
    a, b = await claims(pg_store), await claims(pg_store)
    try:
        got_a = await want(a, range(1, 11))
        got_b = await want(b, range(1, 11))  # every process routes every event: it wants them all
        assert len(got_a) == 5 and sorted(got_b) == sorted(set(range(1, 11)) - set(got_a))
        assert await want(a, range(1, 11)) == [] and await want(b, range(1, 11)) == []
    finally:
        await a.close()
        await b.close()


@pytest.mark.pg
async def test_a_process_joining_late_gets_its_share_of_idle_channels(pg_store: Store) -> None:
    a = await claims(pg_store)
    b = None
    try:
        assert sorted(await want(a, range(1, 7))) == [1, 2, 3, 4, 5, 6]  # alone: all of them
        b = await claims(pg_store)
        assert await want(b, range(1, 7)) == []  # held: b cannot take them
        asked: list[int] = []

        def release(n: int) -> set[int]:
            asked.append(n)
            return first(n, {1, 2, 4, 5, 6})  # channel 3 is busy: it stays

        assert await a.rebalance(release) == {1, 2, 4}
        assert asked == [3] and a.held == {3, 5, 6}
        assert sorted(await want(b, range(1, 7))) == [1, 2, 4]  # taken where work is pending
        assert await a.rebalance(release) == set() and await b.rebalance(release) == set()  # balanced: 3 and 3
        assert not a.held & b.held
    finally:
        await a.close()
        if b is not None:
            await b.close()


@pytest.mark.pg
async def test_a_process_given_nothing_idle_keeps_every_channel(pg_store: Store) -> None:
    a, b = await claims(pg_store), None
    try:
        await want(a, range(1, 5))
        b = await claims(pg_store)
        assert await a.rebalance(lambda n: set()) == set()
        assert a.held == {1, 2, 3, 4} and await want(b, range(1, 5)) == []
    finally:
        await a.close()
        if b is not None:
            await b.close()


@pytest.mark.pg
async def test_over_its_share_a_process_takes_a_channel_only_once_left_unowned_for_the_grace(pg_store: Store) -> None:
    clock = Clock()
    a, b = await claims(pg_store, clock), await claims(pg_store, clock)
    try:
        assert len(await want(a, [1, 2])) == 1 and len(await want(b, [1, 2])) == 1
        # Channel 3's work is pending: b takes it (its share is 2 of 3)...
        assert await want(b, [3]) == [3]
        # ...and channels 4 and 5 come to a, up to its share of ceil(5/2) = 3.
        assert await want(a, [4]) == [4] and await want(a, [5]) == [5]
        # Channel 6 would put a over its share of 6: it is b's to take, and
        # while b does not (busy, or stuck), a waits for the grace.
        assert await want(a, [6]) == []
        clock.now += a.grace - 0.1
        assert await want(a, [6]) == []
        clock.now += 0.2
        assert await want(a, [6]) == [6]
        assert len(a.held) == 4 and len(b.held) == 2 and not a.held & b.held
    finally:
        await a.close()
        await b.close()


@pytest.mark.pg
async def test_the_channels_of_a_process_gone_are_taken_by_the_survivor(pg_store: Store) -> None:
    a, b = await claims(pg_store), await claims(pg_store)
    try:
        got_a = await want(a, range(1, 9))
        await want(b, range(1, 9))
        assert len(got_a) == 4 and len(b.held) == 4
        await a.close()  # as its connection ends on kill -9: its locks go with it
        assert sorted(await want(b, range(1, 9))) == sorted(got_a)  # alone now: no share to keep
        assert b.held == set(range(1, 9))
    finally:
        await b.close()


@pytest.mark.pg
async def test_channels_busy_at_the_sweep_are_handed_over_the_moment_they_fall_idle(pg_store: Store) -> None:
    """A process over its share whose channels are never idle at the instant
    of a sweep still gives them up: busy ones are marked and go as soon as
    their posting loop finds nothing left, without waiting for another sweep."""
    a = await claims(pg_store)
    b = None
    worker = DeliveryWorker(pg_store, PreviewSink(None, io.StringIO()), claims=a)
    hand_over = asyncio.create_task(worker._hand_over_loop(a))
    try:
        await want(a, [1, 2, 3, 4])
        b = await claims(pg_store)
        chans = {c: worker._channel(c) for c in (1, 2, 3, 4)}  # their loops run: nothing is pending
        await asyncio.wait_for(worker._progress.until(lambda: _true(all(ch.idle() for ch in chans.values()))), 10)
        for ch in chans.values():
            ch.held_back.add(-1)  # each owes something: busy
        assert await a.rebalance(worker._release) == set()  # nothing idle to give now...
        assert [c for c, ch in chans.items() if ch.hand_over] == [1, 2]  # ...so two are marked
        assert await want(b, [1, 2, 3, 4]) == []

        chans[1].nudge.set()  # woken, channel 1 finds nothing owed: it goes at once
        await asyncio.wait_for(worker._progress.until(lambda: _true(not a.holds(1))), 10)
        assert a.held == {2, 3, 4} and await want(b, [1, 2, 3, 4]) == [1]
        chans[2].nudge.set()
        await asyncio.wait_for(worker._progress.until(lambda: _true(not a.holds(2))), 10)
        assert await want(b, [1, 2, 3, 4]) == [2]
        assert a.held == {3, 4} and b.held == {1, 2}
        assert await a.rebalance(worker._release) == set()  # even now: nothing marked
        assert not chans[3].hand_over and not chans[4].hand_over
    finally:
        hand_over.cancel()
        await worker.stop()
        for ch in worker._channels.values():
            for task in ch.tasks():
                task.cancel()
        await a.close()
        if b is not None:
            await b.close()


async def _true(value: bool) -> bool:
    return value
