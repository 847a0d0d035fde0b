"""Several `kvm-patchbot run` processes on one PostgreSQL (issue 15): every
process takes mail, one tracks, every process delivers, and a process killed
with SIGKILL mid-burst loses nothing and doubles nothing; with sharding, each
guild's posts come from the process holding its shard."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.store import Store
from bot.store import inbox
from bot.store import schema as t
from tests.fakediscord import FAST_RATE_LIMITS, FakeDiscord
from tests.helpers import series

from .harness import field, footers
from .procs import Run, pg_schema, start_run

pytestmark = pytest.mark.pg

CARD = re.compile(r"^kvm-patchbot · series (\d+)$")
PATCH = re.compile(r"^kvm-patchbot · series (\d+) · (\d+)/(\d+)$")


def expected_footers(n_series: int, n_patches: int) -> list[str]:
    out = []
    for s in range(1, n_series + 1):
        out.append(f"kvm-patchbot · series {s}")
        out += [f"kvm-patchbot · series {s} · {i}/{n_patches}" for i in range(1, n_patches + 1)]
    return out


def in_order(fake: FakeDiscord, channel_id: int) -> None:
    """Cards in series order in the channel; patches in order in each thread."""
    cards = [int(m.group(1)) for f in footers(fake, channel_id) if (m := CARD.match(f))]
    assert cards == sorted(cards), cards
    for thread in fake.threads:
        if thread.parent_id != channel_id:
            continue
        parts = [int(m.group(2)) for f in footers(fake, thread.id) if (m := PATCH.match(f))]
        assert parts == sorted(parts), (thread.name, parts)


def complete(fake: FakeDiscord, n_patches: int) -> bool:
    """Every card edited to its whole series: nothing is owed any more."""
    cards = [m for m in fake.messages if m.embeds and CARD.match(m.embeds[0]["footer"]["text"]) and not m.deleted]
    return bool(cards) and all(field(c, "Received").split()[0] == f"{n_patches}/{n_patches}" for c in cards)


def env_for(fake: FakeDiscord, url: str, schema: str, token: str, subs: list[dict[str, int]]) -> dict[str, str]:
    return {
        "KVMBOT_STORE__URL": url,
        "KVMBOT_STORE__PG_SCHEMA": schema,
        "KVMBOT_DISCORD__TOKEN": token,
        "KVMBOT_DISCORD__API_BASE_URL": fake.api_base_url,
        "KVMBOT_DISCORD__GATEWAY_URL": fake.gateway_url,
        "KVMBOT_SUBSCRIPTIONS": json.dumps(subs),
    }


async def stored(url: str, schema: str) -> tuple[list[str], int]:
    store = await Store.open(url, schema=schema)
    try:
        async with store.engine.connect() as conn:
            mids = list(await conn.scalars(select(t.mails.c.message_id)))
            assert await conn.scalar(select(func.count()).select_from(t.deliveries).where(
                t.deliveries.c.status.in_(["failed", "parked"]))) == 0
        return mids, await inbox.waiting_count(store)
    finally:
        await store.close()


GUILD = 5000 << 22
CH1, CH2 = 7101, 7102


async def test_two_processes_one_killed_mid_burst_every_mail_stored_every_post_once_in_order(
    pg_url: str, tmp_path: Path
) -> None:
    n_series, n_patches = 12, 3
    mails = {f"s{s}": series(f"m{s}", f"Burst number {s} work", n_patches) for s in range(1, n_series + 1)}
    kill_after = 20  # mails acknowledged by the first process before it is killed
    async with (
        pg_schema(pg_url, "t_" + uuid.uuid4().hex[:12]) as schema,
        FakeDiscord(guild_id=GUILD, channels=[(CH1, "one"), (CH2, "two")], rate_limits=FAST_RATE_LIMITS) as fake,
    ):
        subs = [{"guild": GUILD, "channel": CH1}, {"guild": GUILD, "channel": CH2}]
        first = await start_run(tmp_path / "a", env_for(fake, pg_url, schema, "tok-a", subs), "a")
        second = await start_run(tmp_path / "b", env_for(fake, pg_url, schema, "tok-b", subs), "b")
        try:
            def burst() -> int:
                """Series alternate between the sinks, each series' mails in order;
                the first process is killed right after its `kill_after`-th 250,
                and what it would have taken goes to the second (as an MTA retries)."""
                acked = 0
                alive = True
                for n, batch in enumerate(mails.values()):
                    for raw in batch:
                        target = first if n % 2 == 0 and alive else second
                        target.send(raw)
                        if target is first:
                            acked += 1
                            if acked == kill_after:
                                first.kill()
                                alive = False
                return acked

            assert await asyncio.to_thread(burst) == kill_after
            await first.proc.wait()
            want = expected_footers(n_series, n_patches) * 2  # both channels
            await fake.wait_for(lambda f: len(footers(f)) >= len(want) and complete(f, n_patches), timeout=120)
        finally:
            await first.stop()
            await second.stop()
        assert sorted(footers(fake)) == sorted(want)  # every post exactly once
        for channel in (CH1, CH2):
            in_order(fake, channel)
        assert len(fake.threads) == 2 * n_series
        mids, waiting = await stored(pg_url, schema)
        sent = [f"m{s}-{i}@example.com" for s in range(1, n_series + 1) for i in range(n_patches + 1)]
        assert sorted(mids) == sorted(sent) and waiting == 0
        assert "tracks new mail" in second.log.read_text()  # the survivor took tracking over


G0, G1 = 5000 << 22, 5001 << 22  # on shards 0 and 1 of 2: (id >> 22) % 2
C0, C1 = 7201, 7202


async def test_two_shards_two_processes_each_guild_posted_by_the_process_holding_its_shard(
    pg_url: str, tmp_path: Path
) -> None:
    n_series, n_patches = 4, 2
    async with (
        pg_schema(pg_url, "t_" + uuid.uuid4().hex[:12]) as schema,
        FakeDiscord(guild_id=G0, channels=[(C0, "zero")], more_guilds={G1: [(C1, "one")]},
                    shards=2, rate_limits=FAST_RATE_LIMITS) as fake,
    ):
        subs = [{"guild": G0, "channel": C0}, {"guild": G1, "channel": C1}]
        runs: list[Run] = []
        try:
            for shard in (0, 1):
                env = env_for(fake, pg_url, schema, f"tok-{shard}", subs)
                env.update(KVMBOT_DISCORD__SHARD_COUNT="2", KVMBOT_DISCORD__SHARD_IDS=f"[{shard}]")
                runs.append(await start_run(tmp_path / str(shard), env, f"shard{shard}"))
            for s in range(1, n_series + 1):
                for raw in series(f"sh{s}", f"Sharded work {s}", n_patches):
                    await asyncio.to_thread(runs[s % 2].send, raw)
            want = expected_footers(n_series, n_patches) * 2
            await fake.wait_for(lambda f: len(footers(f)) >= len(want) and complete(f, n_patches), timeout=90)
            await fake.wait_for(lambda f: sorted(c["shard"] for c in f.state.gateway_connects
                                                 if c["kind"] == "identify") == [[0, 2], [1, 2]], timeout=30)
        finally:
            for run in runs:
                await run.stop()
        assert sorted(footers(fake)) == sorted(want)
        owner = {G0: "Bot tok-0", G1: "Bot tok-1"}
        channels = {**fake.state.channels, **fake.state.deleted_channels}
        made = 0
        for r in fake.state.requests:
            m = re.match(r"/api/v10/channels/(\d+)/", r.path)
            if r.method == "GET" or m is None or int(m.group(1)) not in channels:
                continue
            made += 1
            assert r.auth == owner[channels[int(m.group(1))].guild_id], (r.path, r.auth)
        assert made >= len(want)
        for channel in (C0, C1):
            in_order(fake, channel)


CHANNELS = [7301, 7302, 7303, 7304]


def card_posters(fake: FakeDiscord, n: int) -> dict[int, str]:
    """channel -> the bot (token) that posted series n's card there: the n-th
    message created in the channel (cards come in series order, `in_order`;
    patches go to threads)."""
    made: dict[int, list[str]] = {}
    for r in fake.state.requests:
        m = re.fullmatch(r"/api/v10/channels/(\d+)/messages", r.path)
        if r.method == "POST" and r.status == 200 and m is not None:
            made.setdefault(int(m.group(1)), []).append(r.auth or "")
    return {c: made[c][n - 1] for c in CHANNELS if len(made.get(c, [])) >= n}


async def test_a_process_started_beside_a_busy_one_gets_an_even_share_of_the_channels(
    pg_url: str, tmp_path: Path
) -> None:
    """The first process holds all four channels; once the second is up, the
    first gives up two as they fall idle, and the second posts there: each
    series' posts still made exactly once, in order."""
    n_patches, most = 2, 30
    async with (
        pg_schema(pg_url, "t_" + uuid.uuid4().hex[:12]) as schema,
        FakeDiscord(guild_id=GUILD, channels=[(c, f"c{c}") for c in CHANNELS], rate_limits=FAST_RATE_LIMITS) as fake,
    ):
        subs = [{"guild": GUILD, "channel": c} for c in CHANNELS]
        runs = [await start_run(tmp_path / "a", env_for(fake, pg_url, schema, "tok-a", subs), "a")]
        n = 0
        try:
            async def post_one(run: Run) -> dict[int, str]:
                nonlocal n
                n += 1
                for raw in series(f"late{n}", f"Shared work {n}", n_patches):
                    await asyncio.to_thread(run.send, raw)
                want = len(expected_footers(n, n_patches)) * len(CHANNELS)
                await fake.wait_for(lambda f: len(footers(f)) >= want and complete(f, n_patches), timeout=60)
                return card_posters(fake, n)

            assert set((await post_one(runs[0])).values()) == {"Bot tok-a"}  # alone: every channel
            runs.append(await start_run(tmp_path / "b", env_for(fake, pg_url, schema, "tok-b", subs), "b"))
            while n < most:
                posters = await post_one(runs[n % 2])
                if sorted(posters.values()) == ["Bot tok-a"] * 2 + ["Bot tok-b"] * 2:
                    break
            else:
                raise AssertionError(f"after {most} series the channels are still not shared: {posters}")
        finally:
            for run in runs:
                await run.stop()
        assert sorted(footers(fake)) == sorted(expected_footers(n, n_patches) * len(CHANNELS))
        for channel in CHANNELS:
            in_order(fake, channel)
        assert "gave up channels" in runs[0].log.read_text()
