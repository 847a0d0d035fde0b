"""Group commit: batching under load, errors only for their own batch, no cancelled commits."""

from __future__ import annotations

import asyncio

import pytest

from bot.ingest.groupcommit import GroupCommit


class Gated:
    """A commit function that records batches and waits for the test to open the gate."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.fail_on: set[int] = set()

    async def __call__(self, items: list[int]) -> None:
        self.batches.append(items)
        self.entered.set()
        await self.gate.wait()
        if self.fail_on & set(items):
            raise ConnectionError("database down")


async def test_arrivals_during_a_commit_share_the_next_one() -> None:
    commit = Gated()
    gc = GroupCommit(commit, max_batch=3)
    first = asyncio.create_task(gc.submit(0))
    await commit.entered.wait()
    rest = [gc.enqueue(i) for i in range(1, 6)]
    commit.gate.set()
    await asyncio.gather(first, *rest)
    assert commit.batches == [[0], [1, 2, 3], [4, 5]]
    assert gc.batches == 3


async def test_a_failed_batch_fails_only_its_own_items() -> None:
    commit = Gated()
    commit.fail_on = {1}
    gc = GroupCommit(commit)
    first = asyncio.create_task(gc.submit(0))
    await commit.entered.wait()
    second = [gc.enqueue(i) for i in (1, 2)]
    commit.gate.set()
    await first
    for task in second:
        with pytest.raises(ConnectionError):
            await task
    await gc.submit(3)  # the next batch goes through
    assert commit.batches == [[0], [1, 2], [3]]


async def test_a_cancelled_submitter_does_not_cancel_the_commit() -> None:
    commit = Gated()
    gc = GroupCommit(commit)
    task = asyncio.create_task(gc.submit(7))
    await commit.entered.wait()
    task.cancel()  # the SMTP client hung up
    with pytest.raises(asyncio.CancelledError):
        await task
    other = asyncio.create_task(gc.submit(8))
    commit.gate.set()
    await other
    assert commit.batches == [[7], [8]]
