"""Each rule the fake enforces, shown refusing (and the lawful request next to it accepted).

Raw HTTP and WebSocket where the rule is Discord's answer to a request; discord.py
where its own reaction is part of the rule (privileged intents, op 1, rate limits).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
import pytest

from tests.fakediscord import FakeDiscord, RateLimits, permissions, running

CH, OTHER = 810000000000000001, 810000000000000002
TOKEN = "strict-token"
USER = 820000000000000077


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(channels=[(CH, "patches"), (OTHER, "other")], token=TOKEN) as server:
        yield server


@asynccontextmanager
async def rest(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(fake.api_base_url + "/", headers={"Authorization": f"Bot {TOKEN}"}) as http:
        yield http


async def call(http: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> tuple[int, Any, Any]:
    async with http.request(method, path, json=body) as answer:
        data = await answer.json() if answer.status != 204 else None
        return answer.status, data, answer.headers


async def post(http: aiohttp.ClientSession, channel: int, **payload: Any) -> tuple[int, Any, Any]:
    return await call(http, "POST", f"channels/{channel}/messages", payload or {"content": "x"})


def errors_at(data: dict[str, Any], *path: str) -> list[str]:
    node: Any = data["errors"]
    for key in path:
        node = node[key]
    return [e["code"] for e in node["_errors"]]


# ---------------------------------------------------------------- embeds


async def test_embed_urls_are_bounded_and_well_formed(fake: FakeDiscord) -> None:
    long_url = "https://lore.kernel.org/r/" + "a" * 2030  # 2056 characters
    async with rest(fake) as http:
        status, data, _ = await post(http, CH, embeds=[{"title": "t", "url": long_url}])
        assert status == 400 and data["code"] == 50035
        assert errors_at(data, "embeds", "0", "url") == ["BASE_TYPE_MAX_LENGTH"]
        status, data, _ = await post(http, CH, embeds=[{"title": "t", "url": "lore.kernel.org/r/x"}])
        assert errors_at(data, "embeds", "0", "url") == ["URL_TYPE_INVALID_SCHEME"]
        status, data, _ = await post(http, CH, embeds=[{"title": "t", "url": "https://x.org/a b"}])
        assert errors_at(data, "embeds", "0", "url") == ["URL_TYPE_INVALID_URL"]
        bad_icon = {"title": "t", "footer": {"text": "f", "icon_url": "ftp://x.org/i.png"}}
        status, data, _ = await post(http, CH, embeds=[bad_icon])
        assert errors_at(data, "embeds", "0", "footer", "icon_url") == ["URL_TYPE_INVALID_SCHEME"]
        status, _, _ = await post(http, CH, embeds=[{"title": "t", "url": long_url[:2048]}])
        assert status == 200
    assert len(fake.messages) == 1


# ---------------------------------------------------------------- permissions


async def test_no_access_is_50001_and_a_missing_permission_50013(fake: FakeDiscord) -> None:
    async with rest(fake) as http:
        fake.set_permissions(CH, deny=permissions.SEND_MESSAGES)
        status, data, _ = await post(http, CH)
        assert (status, data["code"]) == (403, 50013)
        assert (await call(http, "GET", f"channels/{CH}/messages"))[0] == 200  # reading is still allowed
        fake.set_permissions(CH, deny=permissions.VIEW_CHANNEL)  # implicitly denies everything else
        for method, path in (("POST", f"channels/{CH}/messages"), ("GET", f"channels/{CH}/messages"),
                             ("GET", f"channels/{CH}")):
            status, data, _ = await call(http, method, path, {"content": "x"} if method == "POST" else None)
            assert (status, data["code"]) == (403, 50001), (method, path)
        fake.set_permissions(CH)
        assert (await post(http, CH))[0] == 200
    assert len(fake.messages) == 1


async def test_embeds_need_embed_links(fake: FakeDiscord) -> None:
    card = {"title": "[PATCH] KVM: x86: a card", "description": "d"}
    async with rest(fake) as http:
        fake.set_permissions(CH, deny=permissions.EMBED_LINKS)
        status, data, _ = await call(http, "POST", f"channels/{CH}/messages", {"embeds": [card]})
        assert (status, data["code"]) == (403, 50013)  # embeds alone: refused
        status, data, _ = await call(http, "POST", f"channels/{CH}/messages", {"content": "alert", "embeds": [card]})
        assert status == 200 and data["content"] == "alert" and data["embeds"] == []  # silently dropped
        fake.set_permissions(CH)
        status, data, _ = await call(http, "POST", f"channels/{CH}/messages", {"embeds": [card]})
        assert status == 200 and data["embeds"][0]["title"] == card["title"]
    assert [(m.content, len(m.embeds)) for m in fake.messages] == [("alert", 0), ("", 1)]


async def test_thread_permissions_are_their_own(fake: FakeDiscord) -> None:
    async with rest(fake) as http:
        _, card, _ = await post(http, CH, content="card")
        fake.set_permissions(CH, deny=permissions.CREATE_PUBLIC_THREADS)
        status, data, _ = await call(http, "POST", f"channels/{CH}/messages/{card['id']}/threads", {"name": "t"})
        assert (status, data["code"]) == (403, 50013)
        assert (await post(http, CH, content="posting still works"))[0] == 200
        fake.set_permissions(CH)
        status, thread, _ = await call(http, "POST", f"channels/{CH}/messages/{card['id']}/threads", {"name": "t"})
        assert status == 201
        # SEND_MESSAGES does nothing in a thread: SEND_MESSAGES_IN_THREADS is what counts.
        fake.set_permissions(CH, deny=permissions.SEND_MESSAGES_IN_THREADS)
        status, data, _ = await post(http, int(thread["id"]), content="patch 1/3")
        assert (status, data["code"]) == (403, 50013)
        fake.set_permissions(CH, deny=permissions.SEND_MESSAGES)
        assert (await post(http, int(thread["id"]), content="patch 1/3"))[0] == 200
        fake.set_permissions(CH, deny=permissions.VIEW_CHANNEL)  # the parent hides its threads
        status, data, _ = await post(http, int(thread["id"]), content="patch 2/3")
        assert (status, data["code"]) == (403, 50001)
    assert [m.content for m in fake.messages] == ["card", "posting still works", "patch 1/3"]


async def test_replies_and_history_need_read_message_history(fake: FakeDiscord) -> None:
    async with rest(fake) as http:
        _, card, _ = await post(http, CH, content="card")
        fake.set_permissions(CH, deny=permissions.READ_MESSAGE_HISTORY)
        status, data, _ = await post(http, CH, content="reply", message_reference={"message_id": card["id"]})
        assert (status, data["code"]) == (403, 50013)
        status, history, _ = await call(http, "GET", f"channels/{CH}/messages")
        assert status == 200 and history == []  # "no messages will be returned"
        fake.set_permissions(CH)
        status, history, _ = await call(http, "GET", f"channels/{CH}/messages")
        assert [m["content"] for m in history] == ["card"]


async def test_editing_another_users_message_is_50005(fake: FakeDiscord) -> None:
    theirs = fake.post_as(CH, USER, "a maintainer's message")
    async with rest(fake) as http:
        status, data, _ = await call(http, "PATCH", f"channels/{CH}/messages/{theirs.id}", {"content": "hijacked"})
        assert (status, data["code"]) == (403, 50005)
        status, data, _ = await call(http, "DELETE", f"channels/{CH}/messages/{theirs.id}")
        assert (status, data["code"]) == (403, 50013)  # someone else's message needs MANAGE_MESSAGES
    assert theirs.content == "a maintainer's message" and theirs.edits == 0 and not theirs.deleted


# ---------------------------------------------------------------- threads


async def test_an_archived_thread_is_renamed_only_by_unarchiving_it(fake: FakeDiscord) -> None:
    async with rest(fake) as http:
        _, card, _ = await post(http, CH, content="card")
        _, thread, _ = await call(http, "POST", f"channels/{CH}/messages/{card['id']}/threads", {"name": "old"})
        tid = int(thread["id"])
        _, patch, _ = await post(http, tid, content="1/2")
        fake.archive_thread(tid)
        status, data, _ = await call(http, "PATCH", f"channels/{tid}", {"name": "new"})
        assert (status, data["code"]) == (400, 50083)
        assert fake.state.channels[tid].name == "old" and fake.state.channels[tid].archived
        status, data, _ = await call(http, "PATCH", f"channels/{tid}/messages/{patch['id']}", {"content": "edited"})
        assert (status, data["code"]) == (400, 50083)  # messages of an archived thread are frozen too
        status, data, _ = await call(http, "PATCH", f"channels/{tid}", {"name": "new", "archived": False})
        assert status == 200 and data["name"] == "new" and data["thread_metadata"]["archived"] is False
        # A locked thread: only MANAGE_THREADS may reopen it, and the bot has not got it.
        fake.archive_thread(tid, locked=True)
        status, data, _ = await call(http, "PATCH", f"channels/{tid}", {"name": "newer", "archived": False})
        assert (status, data["code"]) == (400, 50083)
    assert fake.state.channels[tid].name == "new"
    assert [m.content for m in fake.messages_in(tid)] == ["1/2"]


async def test_too_many_active_threads_is_160006(fake: FakeDiscord) -> None:
    fake.max_active_threads = 1
    async with rest(fake) as http:
        _, first, _ = await post(http, CH, content="first")
        _, second, _ = await post(http, CH, content="second")
        status, thread, _ = await call(http, "POST", f"channels/{CH}/messages/{first['id']}/threads", {"name": "a"})
        assert status == 201
        status, data, _ = await call(http, "POST", f"channels/{CH}/messages/{second['id']}/threads", {"name": "b"})
        assert (status, data["code"]) == (400, 160006)
        fake.archive_thread(int(thread["id"]))
        status, _, _ = await call(http, "POST", f"channels/{CH}/messages/{second['id']}/threads", {"name": "b"})
        assert status == 201
        # Unarchiving the first would make two active threads: refused too, and it stays archived.
        status, data, _ = await post(http, int(thread["id"]), content="revive")
        assert (status, data["code"]) == (400, 160006)
    assert [t.name for t in fake.threads] == ["a", "b"] and fake.threads[0].archived


async def test_threads_auto_archive_on_the_fakes_clock(fake: FakeDiscord) -> None:
    async with rest(fake) as http:
        _, card, _ = await post(http, CH, content="card")
        body = {"name": "t", "auto_archive_duration": 60}
        _, thread, _ = await call(http, "POST", f"channels/{CH}/messages/{card['id']}/threads", body)
    assert fake.advance(59 * 60) == []
    (archived,) = fake.advance(61)
    assert archived.id == int(thread["id"]) and archived.archived
    assert ("THREAD_UPDATE", archived.id) in [(t, int(d["id"])) for t, d in fake.state.gateway_events]


# ---------------------------------------------------------------- refused requests


async def test_a_refused_edit_changes_nothing(fake: FakeDiscord) -> None:
    async with rest(fake) as http:
        _, msg, _ = await post(http, CH, content="card", embeds=[{"title": "v1"}])
        path = f"channels/{CH}/messages/{msg['id']}"
        status, data, _ = await call(http, "PATCH", path, {"content": "", "embeds": []})
        assert (status, data["code"]) == (400, 50006)
        status, data, _ = await call(http, "PATCH", path, {"content": "y" * 2001, "embeds": [{"title": "v2"}]})
        assert (status, data["code"]) == (400, 50035)
        status, data, _ = await call(http, "PATCH", path, {"embeds": [{"title": "v2", "url": "javascript:x"}]})
        assert (status, data["code"]) == (400, 50035)
    (stored,) = fake.messages
    assert (stored.content, stored.embeds, stored.edits) == ("card", [{"title": "v1"}], 0)


# ---------------------------------------------------------------- mentions


async def test_mentions_are_resolved_as_discord_does(fake: FakeDiscord) -> None:
    quiet, loud = 4001, 4002
    fake.add_role(quiet, "kvm-stable")  # not mentionable
    fake.add_role(loud, "kvm-loud", mentionable=True)
    fake.set_guild_permissions(permissions.DEFAULT_BOT_PERMISSIONS & ~permissions.MENTION_EVERYONE)
    async with rest(fake) as http:
        # No allowed_mentions: everything is parsed; only the mentionable role notifies,
        # and @everyone needs MENTION_EVERYONE.
        await post(http, CH, content=f"<@&{quiet}> <@&{loud}> <@{USER}> @everyone")
        await post(http, CH, content=f"<@&{loud}> <@{USER}>", allowed_mentions={"parse": []})
        await post(http, CH, content=f"<@&{loud}> \\<@&{loud}>", allowed_mentions={"roles": [str(loud)]})
        fake.set_guild_permissions(permissions.DEFAULT_BOT_PERMISSIONS)
        await post(http, CH, content=f"<@&{quiet}> @here", allowed_mentions={"parse": ["everyone"], "roles": [str(quiet)]})
        status, data, _ = await post(http, CH, content="x", allowed_mentions={"parse": ["roles"], "roles": [str(loud)]})
        assert (status, data["code"]) == (400, 50035)
        assert errors_at(data, "allowed_mentions", "parse") == ["MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"]
        status, data, _ = await post(http, OTHER, content="x", allowed_mentions={"users": [str(i) for i in range(101)]})
        assert errors_at(data, "allowed_mentions", "users") == ["BASE_TYPE_MAX_LENGTH"]
    got = [(m.mention_roles, m.mention_users, m.mention_everyone) for m in fake.messages]
    assert got == [
        ([loud], [USER], False),
        ([], [], False),
        ([loud], [], False),  # the escaped mention notifies nobody
        ([quiet], [], True),  # MENTION_EVERYONE pings even a role that is not mentionable
    ]


# ---------------------------------------------------------------- rate limits


async def test_messages_are_limited_to_5_per_5_seconds_per_channel(fake: FakeDiscord) -> None:
    async with rest(fake) as http:
        answers = [await post(http, CH, content=f"m{i}") for i in range(6)]
        assert [a[0] for a in answers] == [200] * 5 + [429]
        status, body, headers = answers[-1]
        assert body["global"] is False and 4 < body["retry_after"] <= 5
        assert headers["X-RateLimit-Scope"] == "user" and headers["Via"]
        assert headers["X-RateLimit-Limit"] == "5" and headers["X-RateLimit-Remaining"] == "0"
        assert (await post(http, OTHER, content="another channel, another bucket"))[0] == 200
    assert len(fake.messages) == 6


async def test_error_answers_carry_rate_limit_headers(fake: FakeDiscord) -> None:
    fake.set_permissions(CH, deny=permissions.SEND_MESSAGES)
    async with rest(fake) as http:
        status, _, headers = await post(http, CH)
        assert status == 403
        assert headers["X-RateLimit-Limit"] == "5" and headers["X-RateLimit-Remaining"] == "4"
        status, _, headers = await post(http, OTHER, content="x" * 2001)
        assert status == 400 and headers["X-RateLimit-Remaining"] == "4"


async def test_the_global_limit_is_50_per_second() -> None:
    async with FakeDiscord(channels=[(CH, "patches")], token=TOKEN) as fake, rest(fake) as http:
        statuses = [(await call(http, "GET", f"channels/{CH}"))[0] for _ in range(51)]
        assert statuses == [200] * 50 + [429]
        status, body, headers = await call(http, "GET", f"channels/{CH}")
        assert status == 429 and body["global"] is True and headers["X-RateLimit-Scope"] == "global"


async def test_invalid_requests_get_the_ip_banned() -> None:
    limits = RateLimits(invalid_limit=(3, 600.0))
    async with FakeDiscord(channels=[(CH, "patches")], token=TOKEN, rate_limits=limits) as fake:
        fake.set_permissions(CH, deny=permissions.SEND_MESSAGES)
        async with rest(fake) as http:
            assert [(await post(http, CH))[0] for _ in range(3)] == [403] * 3
            async with http.get(f"channels/{CH}") as banned:
                # Cloudflare's answer: no JSON, no Via (discord.py reads it as a ban, not a rate limit).
                assert banned.status == 429 and "Via" not in banned.headers
                assert banned.content_type == "text/plain"


async def test_edits_of_messages_older_than_an_hour_are_limited(fake: FakeDiscord) -> None:
    async with FakeDiscord(channels=[(CH, "patches")], token=TOKEN, old_message_edits=(2, 600.0)) as fake:
        async with rest(fake) as http:
            _, old, _ = await post(http, CH, content="old card")
            fake.advance(3601)
            _, new, _ = await post(http, CH, content="new card")
            edits = [await call(http, "PATCH", f"channels/{CH}/messages/{old['id']}", {"content": f"e{i}"})
                     for i in range(3)]
            assert [e[0] for e in edits] == [200, 200, 429]
            status, body, headers = edits[-1]
            assert body["code"] == 30046 and 0 < body["retry_after"] <= 600 and headers["Via"]
            # A young message has no such limit.
            assert (await call(http, "PATCH", f"channels/{CH}/messages/{new['id']}", {"content": "ok"}))[0] == 200
        assert fake.state.messages_by_id[int(old["id"])].content == "e1"


async def test_discordpy_waits_out_the_message_bucket_without_a_429() -> None:
    async with FakeDiscord(channels=[(CH, "patches")], rate_limits=RateLimits.discord().scaled(0.05)) as fake:
        client = discord.Client(intents=discord.Intents.none(), guild_ready_timeout=0.05)
        async with running(fake, client):
            channel = client.get_partial_messageable(CH)
            for i in range(7):
                await channel.send(f"m{i}")
        assert [m.content for m in fake.messages] == [f"m{i}" for i in range(7)]
        assert fake.count_requests("POST /channels/{channel_id}/messages", status=429) == 0


# ---------------------------------------------------------------- nonces


async def test_the_nonce_window_and_a_deleted_message() -> None:
    async with FakeDiscord(channels=[(CH, "patches")], token=TOKEN, nonce_window=60.0) as fake, rest(fake) as http:
        _, first, _ = await post(http, CH, content="card", nonce="n-1", enforce_nonce=True)
        assert first["nonce"] == "n-1"
        _, again, _ = await post(http, CH, content="card", nonce="n-1", enforce_nonce=True)
        assert again["id"] == first["id"]
        _, read, _ = await call(http, "GET", f"channels/{CH}/messages/{first['id']}")
        assert "nonce" not in read  # the nonce is not stored with the message
        fake.advance(61)
        _, later, _ = await post(http, CH, content="card", nonce="n-1", enforce_nonce=True)
        assert later["id"] != first["id"]  # past the window: a second message
        await call(http, "DELETE", f"channels/{CH}/messages/{later['id']}")
        status, data, _ = await post(http, CH, content="card", nonce="n-1", enforce_nonce=True)
        assert (status, data["code"]) == (404, 10008)
    assert len(fake.messages) == 2


# ---------------------------------------------------------------- gateway


@asynccontextmanager
async def raw_gateway(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url + "?v=10&encoding=json") as ws:
        hello = json.loads((await ws.receive()).data)
        assert hello["op"] == 10
        yield ws


def identify(intents: int) -> dict[str, Any]:
    return {"op": 2, "d": {"token": TOKEN, "intents": intents, "properties": {}}}


async def closed_with(ws: aiohttp.ClientWebSocketResponse) -> int | None:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 10)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            return ws.close_code


@pytest.mark.parametrize(("intents", "code"), [(1 << 18, 4013), (1 << 30, 4013), (1 << 15, 4014), (1 << 1, 4014)])
async def test_bad_intents_close_the_gateway(fake: FakeDiscord, intents: int, code: int) -> None:
    async with raw_gateway(fake) as ws:
        await ws.send_json(identify(1 | intents))
        assert await closed_with(ws) == code
    assert fake.state.gateway_closes == [code]


async def test_discordpy_asking_for_a_privileged_intent_is_refused(fake: FakeDiscord) -> None:
    intents = discord.Intents.none()
    intents.guilds = intents.message_content = True
    client = discord.Client(intents=intents)
    with pytest.raises(discord.PrivilegedIntentsRequired):
        async with running(fake, client, TOKEN):
            pass
    async with FakeDiscord(channels=[(CH, "patches")], privileged_intents=1 << 15) as allowed:
        async with running(allowed, discord.Client(intents=intents, guild_ready_timeout=0.05)) as ok:
            assert ok.is_ready()


async def test_a_silent_client_is_closed_and_may_resume() -> None:
    async with FakeDiscord(channels=[(CH, "patches")], token=TOKEN, heartbeat_interval_ms=100) as fake:
        async with raw_gateway(fake) as ws:
            await ws.send_json(identify(1))
            assert await closed_with(ws) == 4000  # no heartbeat within the interval
        assert fake.state.gateway_closes == [4000] and len(fake.gateway.sessions) == 1  # resumable
        async with raw_gateway(fake) as ws:
            await ws.send_json(identify(1))
            for _ in range(4):  # a client that heartbeats stays connected
                await asyncio.sleep(0.05)
                await ws.send_json({"op": 1, "d": None})
                assert json.loads((await ws.receive()).data)["op"] in (0, 11)
        assert fake.state.gateway_closes == [4000]


async def test_discordpy_answers_op_1_at_once(fake: FakeDiscord) -> None:
    client = discord.Client(intents=discord.Intents.none(), guild_ready_timeout=0.05)
    async with running(fake, client, TOKEN):
        (conn,) = fake.gateway.connections
        before = conn.heartbeats
        assert fake.request_heartbeat() == 1
        await fake.wait_for(lambda f: conn.heartbeats > before, timeout=5)  # long before its 41 s interval


async def test_sending_too_much_is_4008_and_before_identify_4003() -> None:
    async with FakeDiscord(channels=[(CH, "patches")], token=TOKEN, gateway_send_limit=(5, 60.0)) as fake:
        async with raw_gateway(fake) as ws:
            await ws.send_json({"op": 3, "d": {"status": "online", "afk": False, "since": None, "activities": []}})
            assert await closed_with(ws) == 4003
        async with raw_gateway(fake) as ws:
            await ws.send_json(identify(1))
            for _ in range(5):
                await ws.send_json({"op": 1, "d": None})
            assert await closed_with(ws) == 4008
        assert fake.state.gateway_closes == [4003, 4008]


# ---------------------------------------------------------------- deleting


async def test_deleting_messages_and_threads(fake: FakeDiscord) -> None:
    theirs = fake.post_as(CH, USER, "a maintainer's reply")
    async with rest(fake) as http:
        _, card, _ = await post(http, CH, content="card")
        _, thread, _ = await call(http, "POST", f"channels/{CH}/messages/{card['id']}/threads", {"name": "series"})
        _, patch, _ = await post(http, int(thread["id"]), content="patch 1/2")
        _, second, _ = await post(http, int(thread["id"]), content="patch 2/2")
        # Our own message needs no MANAGE_MESSAGES (the bot has none by default); another's does.
        status, _, _ = await call(http, "DELETE", f"channels/{thread['id']}/messages/{second['id']}")
        assert status == 204
        status, data, _ = await call(http, "DELETE", f"channels/{CH}/messages/{theirs.id}")
        assert (status, data["code"]) == (403, 50013)
        # Gone, or never there: 10008; an unknown channel: 10003.
        status, data, _ = await call(http, "DELETE", f"channels/{thread['id']}/messages/{second['id']}")
        assert (status, data["code"]) == (404, 10008)
        status, data, _ = await call(http, "DELETE", f"channels/{CH}/messages/{patch['id']}")
        assert (status, data["code"]) == (404, 10008)  # it is in the thread, not the channel
        status, data, _ = await call(http, "DELETE", f"channels/{OTHER + 7}")
        assert (status, data["code"]) == (404, 10003)
        # A thread is deleted with MANAGE_THREADS only, its creator or not.
        status, data, _ = await call(http, "DELETE", f"channels/{thread['id']}")
        assert (status, data["code"]) == (403, 50013)
        fake.set_permissions(CH, allow=permissions.MANAGE_THREADS)
        status, data, _ = await call(http, "DELETE", f"channels/{thread['id']}")
        assert status == 200 and data["id"] == thread["id"]
        status, data, _ = await call(http, "DELETE", f"channels/{thread['id']}/messages/{patch['id']}")
        assert (status, data["code"]) == (404, 10003)
        status, data, _ = await call(http, "GET", f"channels/{CH}/messages/{card['id']}")
        assert status == 200 and "thread" not in data  # the card stays, without its thread
    assert [(m.content, m.deleted) for m in fake.messages] == [
        ("a maintainer's reply", False), ("card", False), ("patch 1/2", True), ("patch 2/2", True),
    ]
    assert fake.messages_in(int(thread["id"])) == []
    deletes = [(t, d) for t, d in fake.state.gateway_events if t in ("MESSAGE_DELETE", "THREAD_DELETE")]
    assert deletes == [
        ("MESSAGE_DELETE", {"id": second["id"], "channel_id": thread["id"], "guild_id": str(fake.guild_id)}),
        ("THREAD_DELETE", {"id": thread["id"], "guild_id": str(fake.guild_id), "parent_id": str(CH), "type": 11}),
    ]


async def test_deleting_in_archived_and_locked_threads(fake: FakeDiscord) -> None:
    async with rest(fake) as http:
        _, card, _ = await post(http, CH, content="card")
        _, thread, _ = await call(http, "POST", f"channels/{CH}/messages/{card['id']}/threads", {"name": "series"})
        tid = int(thread["id"])
        _, one, _ = await post(http, tid, content="one")
        _, two, _ = await post(http, tid, content="two")
        # Its creator may archive it without MANAGE_THREADS, and deleting is what an archived thread allows.
        status, _, _ = await call(http, "PATCH", f"channels/{tid}", {"archived": True})
        assert status == 200 and fake.state.channels[tid].archived
        status, _, _ = await call(http, "DELETE", f"channels/{tid}/messages/{one['id']}")
        assert status == 204
        fake.archive_thread(tid, locked=True)  # a moderator locked it: only while active
        status, data, _ = await call(http, "DELETE", f"channels/{tid}/messages/{two['id']}")
        assert (status, data["code"]) == (400, 50083)
    assert [(m.content, m.deleted) for m in fake.messages] == [("card", False), ("one", True), ("two", False)]
