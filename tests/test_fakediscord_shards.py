"""The fake Discord's sharding (gateway.py "Sharding"): IDENTIFY's shard, guilds
split by (guild_id >> 22) % num_shards, GET /gateway/bot, 4010 and 4011."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakediscord import FakeDiscord, running

G0, G1 = 5000 << 22, 5001 << 22  # shard 0 and shard 1 of 2
C0, C1 = 7301, 7302


@asynccontextmanager
async def raw_gateway(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        hello = json.loads((await ws.receive()).data)
        assert hello["op"] == 10
        yield ws


def identify(shard: Any) -> dict[str, Any]:
    return {"op": 2, "d": {"token": "t", "intents": 1, "properties": {}, "shard": shard}}


async def close_code(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 10)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code


def two_guilds(**kw: Any) -> FakeDiscord:
    return FakeDiscord(guild_id=G0, channels=[(C0, "zero")], more_guilds={G1: [(C1, "one")]}, **kw)


async def test_each_shard_gets_only_its_guilds_and_their_events() -> None:
    async with two_guilds(shards=2, max_concurrency=2) as fake:
        clients = [
            discord.AutoShardedClient(intents=discord.Intents(guilds=True), shard_count=2, shard_ids=[i],
                                      guild_ready_timeout=0.05)
            for i in (0, 1)
        ]
        async with running(fake, clients[0]) as zero, running(fake, clients[1]) as one:
            assert [g.id for g in zero.guilds] == [G0] and [g.id for g in one.guilds] == [G1]
            assert zero.get_channel(C0) is not None and zero.get_channel(C1) is None
            assert one.get_channel(C1) is not None and one.get_channel(C0) is None
            created = asyncio.ensure_future(zero.wait_for("guild_channel_create", timeout=10))
            fake.add_channel("new-in-g0")  # CHANNEL_CREATE of guild G0: shard 0 only
            assert (await created).name == "new-in-g0"
            sent = [e for e, d in fake.state.gateway_events if e == "CHANNEL_CREATE"]
            assert len(sent) == 1 and not any(c.name == "new-in-g0" for c in one.get_all_channels())
            assert fake.gateway.sessions and all(
                any(f["t"] == "CHANNEL_CREATE" for f in s.backlog) == (s.shard == [0, 2])
                for s in fake.gateway.sessions.values()
            )
        shards = sorted(c["shard"] for c in fake.state.gateway_connects if c["kind"] == "identify")
        assert shards == [[0, 2], [1, 2]]


async def test_gateway_bot_recommends_shards_and_max_concurrency() -> None:
    async with two_guilds(shards=3, max_concurrency=4) as fake, aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_base_url}/gateway/bot", headers={"Authorization": "Bot t"}) as r:
            data = await r.json()
    assert data["shards"] == 3 and data["session_start_limit"]["max_concurrency"] == 4
    assert data["url"] == fake.gateway_url


@pytest.mark.parametrize("shard", [[2, 2], [0, 0], [-1, 2], [0], "0,1", [0.0, 1]])
async def test_an_invalid_shard_closes_with_4010(shard: Any) -> None:
    async with two_guilds() as fake, raw_gateway(fake) as ws:
        await ws.send_json(identify(shard))
        assert await close_code(ws) == 4010
    assert fake.state.gateway_closes == [4010]


async def test_too_many_guilds_on_one_session_needs_sharding_4011() -> None:
    async with two_guilds(max_guilds_per_shard=1) as fake:
        async with raw_gateway(fake) as ws:
            await ws.send_json(identify([0, 1]))  # both guilds on one shard: too many
            assert await close_code(ws) == 4011
        async with raw_gateway(fake) as ws:
            await ws.send_json(identify([1, 2]))  # sharded: one guild each
            ready = json.loads((await ws.receive()).data)
            assert ready["t"] == "READY" and [g["id"] for g in ready["d"]["guilds"]] == [str(G1)]
    assert fake.state.gateway_closes == [4011]
