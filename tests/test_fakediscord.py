"""Unmodified discord.py 2.7 against the fake Discord, end to end over 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakediscord import FakeDiscord, RestFault, pointed_at, running

ROOT = Path(__file__).resolve().parent.parent
PATCHES, ALERTS = 800000000000000011, 800000000000000012
MESSAGES_ROUTE = "POST /channels/{channel_id}/messages"


class Probe(discord.Client):
    """A minimal bot: guilds intent only, one slash command tree."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)
        self.ready = asyncio.Event()

    async def on_ready(self) -> None:
        self.ready.set()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py sleeps 5 s before re-identifying; the fake has no identify limit


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(channels=[(PATCHES, "patches"), (ALERTS, "alerts")], token="fake-token") as server:
        yield server


@asynccontextmanager
async def connected(fake: FakeDiscord, client: Probe | None = None) -> AsyncIterator[Probe]:
    probe = client or Probe()
    async with running(fake, probe, "fake-token"):
        yield probe


def patches(client: discord.Client) -> discord.TextChannel:
    channel = client.get_channel(PATCHES)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_login_ready_and_guild_create(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        assert client.user is not None and client.user.id == fake.bot_id
        assert client.application_id == fake.application_id
        guild = client.get_guild(fake.guild_id)
        assert guild is not None and not guild.unavailable
        assert sorted(c.name for c in guild.text_channels) == ["alerts", "patches"]
        assert guild.me is not None and guild.me.id == fake.bot_id
        assert patches(client).permissions_for(guild.me).send_messages
    routes = [r.route for r in fake.requests]
    assert routes[:2] == ["GET /users/@me", "GET /oauth2/applications/@me"]
    assert [c["kind"] for c in fake.state.gateway_connects] == ["identify"]
    assert fake.state.gateway_connects[0]["path"] == "/gateway"
    # discord.py asks for zstd-stream where zstandard is installed (it is a dependency), else zlib-stream
    assert fake.state.gateway_connects[0]["compressed"] == "zstd-stream"


async def test_wrong_token_is_refused(fake: FakeDiscord) -> None:
    client = Probe()
    with pointed_at(fake), pytest.raises(discord.LoginFailure):
        try:
            await client.login("not-the-token")
        finally:
            await client.close()
    assert fake.requests[-1].status == 401


async def test_message_embed_thread_edit(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        embed = discord.Embed(title="[PATCH v2 0/3] KVM: x86: tidy", description="cover letter")
        embed.add_field(name="Author", value="Jane <jane@example.org>")
        msg = await patches(client).send(
            "new series", embed=embed, allowed_mentions=discord.AllowedMentions.none()
        )
        thread = await msg.create_thread(name="KVM: x86: tidy", auto_archive_duration=10080)
        await thread.send("1/3 first patch")
        await msg.edit(content="new series (v2)")
        reply = await patches(client).send("see above", reference=msg, mention_author=False)

    records = fake.state.observed_messages()
    assert [m["content"] for m in records] == ["new series (v2)", "1/3 first patch", "see above"]
    first = records[0]
    assert first["embeds"][0]["title"] == "[PATCH v2 0/3] KVM: x86: tidy"
    assert first["embeds"][0]["fields"] == [{"name": "Author", "value": "Jane <jane@example.org>", "inline": True}]
    assert first["allowed_mentions"] == {"parse": []}  # AllowedMentions.none()
    assert first["edited"] == 1 and records[1]["edited"] == 0
    assert records[1]["channel_id"] == str(thread.id)
    assert records[2]["message_reference"]["message_id"] == str(msg.id)
    assert reply.reference is not None and reply.reference.message_id == msg.id
    assert fake.state.observed_threads() == [
        {
            "id": str(msg.id),  # a thread started on a message takes the message's id
            "parent_id": str(PATCHES),
            "message_id": str(msg.id),
            "name": "KVM: x86: tidy",
            "archived": False,
            "locked": False,
            "auto_archive_duration": 10080,
            "deleted": False,
        }
    ]


async def test_limits_answer_50035_and_store_nothing(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        with pytest.raises(discord.HTTPException) as too_long:
            await patches(client).send("x" * 2001)
        assert too_long.value.status == 400 and too_long.value.code == 50035
        assert "content" in too_long.value.text and "2000 or fewer" in too_long.value.text

        with pytest.raises(discord.HTTPException) as big_title:
            await patches(client).send(embed=discord.Embed(title="t" * 257))
        assert big_title.value.code == 50035 and "embeds.0.title" in big_title.value.text

        heavy = [discord.Embed(description="d" * 4000) for _ in range(2)]
        with pytest.raises(discord.HTTPException) as total:
            await patches(client).send(embeds=heavy)
        assert total.value.code == 50035 and "6000" in total.value.text

        msg = await patches(client).send("x" * 2000)
        with pytest.raises(discord.HTTPException) as thread_name:
            await msg.create_thread(name="n" * 101)
        assert thread_name.value.code == 50035 and "name" in thread_name.value.text
    assert [len(m.content) for m in fake.messages] == [2000]
    assert fake.threads == []


async def test_enforced_nonce_returns_the_first_message(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        first = await patches(client).send("card", nonce="abc123")
        again = await patches(client).send("card (retried)", nonce="abc123")
        other = await patches(client).send("card", nonce="def456")
        with pytest.raises(discord.HTTPException) as long_nonce:
            await patches(client).send("card", nonce="n" * 26)
        assert long_nonce.value.code == 50035
    assert again.id == first.id and other.id != first.id
    assert [m.content for m in fake.messages] == ["card", "card"]


async def test_second_thread_on_a_message_is_160004(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        msg = await patches(client).send("series")
        await msg.create_thread(name="first")
        with pytest.raises(discord.HTTPException) as again:
            await msg.create_thread(name="second")
        assert again.value.status == 400 and again.value.code == 160004
    assert [t.name for t in fake.threads] == ["first"]


@pytest.mark.parametrize("is_global", [False, True])
async def test_injected_429_is_retried_and_posts_once(fake: FakeDiscord, is_global: bool) -> None:
    async with connected(fake) as client:
        fake.rate_limit_next(route=MESSAGES_ROUTE, retry_after=0.05, is_global=is_global)
        await patches(client).send("exactly once")
    assert [m.content for m in fake.messages] == ["exactly once"]
    assert fake.count_requests(MESSAGES_ROUTE, status=429) == 1
    assert fake.count_requests(MESSAGES_ROUTE, status=200) == 1


async def test_429_without_via_looks_like_a_cloudflare_ban(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        fake.inject(RestFault(429, route=MESSAGES_ROUTE, via=False))
        with pytest.raises(discord.HTTPException) as banned:
            await patches(client).send("never")
        assert banned.value.status == 429
    assert fake.messages == []


async def test_bucket_exhaustion_is_announced_in_headers(fake: FakeDiscord) -> None:
    async with FakeDiscord(channels=[(PATCHES, "patches")], rate_limit=(2, 0.2)) as tight:
        async with connected(tight) as client:
            for i in range(5):
                await patches(client).send(f"m{i}")
        # discord.py read Remaining: 0 and waited: no 429 was needed.
        assert [m.content for m in tight.messages] == [f"m{i}" for i in range(5)]
        assert tight.count_requests(MESSAGES_ROUTE, status=429) == 0


async def test_global_rate_limit_is_waited_out(fake: FakeDiscord) -> None:
    async with FakeDiscord(channels=[(PATCHES, "patches")], rate_limit=(50, 1.0), global_rate_limit=3) as tight:
        async with connected(tight) as client:
            await asyncio.gather(*(patches(client).send(f"m{i}") for i in range(6)))
        assert sorted(m.content for m in tight.messages) == [f"m{i}" for i in range(6)]
        assert tight.count_requests(MESSAGES_ROUTE, status=429) >= 1


async def test_gateway_drop_then_resume(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        resumed = asyncio.ensure_future(client.wait_for("resumed"))
        assert await fake.drop_gateway(resume=True) == 1
        await asyncio.wait_for(resumed, 10)
        assert [(c["kind"], c["path"]) for c in fake.state.gateway_connects] == [
            ("identify", "/gateway"),
            ("resume", "/resume"),  # the resume_gateway_url from READY
        ]
        await patches(client).send("after resume")
    assert [m.content for m in fake.messages] == ["after resume"]


async def test_events_missed_while_down_are_replayed_on_resume(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        resumed = asyncio.ensure_future(client.wait_for("resumed"))
        await fake.set_outage("refuse")  # cuts the gateway, refuses reconnects
        late = fake.add_channel("late")  # CHANNEL_CREATE buffered in the session
        await fake.set_outage(None)
        await asyncio.wait_for(resumed, 10)
        assert client.get_channel(late.id) is not None


async def test_drop_without_resume_identifies_again(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        client.ready.clear()
        await fake.drop_gateway(resume=False)
        await asyncio.wait_for(client.ready.wait(), 10)
        kinds = [c["kind"] for c in fake.state.gateway_connects]
        assert kinds == ["identify", "resume-refused", "identify"]
        assert client.get_channel(PATCHES) is not None


async def test_forbidden_and_deleted_channels(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        updated = asyncio.ensure_future(client.wait_for("guild_channel_update"))
        fake.set_forbidden(ALERTS)
        _, alerts = await asyncio.wait_for(updated, 10)
        assert isinstance(alerts, discord.TextChannel) and alerts.id == ALERTS
        assert not alerts.permissions_for(alerts.guild.me).send_messages  # the overwrite arrived
        with pytest.raises(discord.Forbidden) as forbidden:
            await alerts.send("ping")
        assert forbidden.value.code == 50013

        gone = asyncio.ensure_future(client.wait_for("guild_channel_delete"))
        fake.delete_channel(PATCHES)
        deleted = await asyncio.wait_for(gone, 10)
        assert deleted.id == PATCHES and client.get_channel(PATCHES) is None
        with pytest.raises(discord.NotFound) as unknown:
            await client.http.send_message(PATCHES, params=discord.http.handle_message_parameters(content="x"))
        assert unknown.value.code == 10003
    assert fake.messages == []


async def test_outage_503(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        await fake.set_outage("503")
        with pytest.raises(discord.DiscordServerError):
            await patches(client).send("during outage")
        await fake.set_outage("refuse")  # even the pooled keep-alive connection is cut
        with pytest.raises((aiohttp.ClientError, OSError)):
            await patches(client).send("refused")
        await fake.set_outage(None)
        await patches(client).send("after outage")
    assert [m.content for m in fake.messages] == ["after outage"]


async def test_slash_commands_immediate_and_deferred(fake: FakeDiscord) -> None:
    client = Probe()
    guild = discord.Object(fake.guild_id)

    @client.tree.command(name="ping", description="answers at once", guild=guild)
    async def ping(interaction: discord.Interaction, word: str) -> None:
        assert interaction.guild_id == fake.guild_id and interaction.channel_id == PATCHES
        await interaction.response.send_message(f"pong {word}", ephemeral=True)

    @client.tree.command(name="slow", description="defers then follows up", guild=guild)
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(thinking=True)
        await interaction.followup.send("done")
        await interaction.followup.send("and one more")

    seen: list[tuple[int, bool, int]] = []

    @client.tree.command(name="subscribe", description="channel option and a permission check", guild=guild)
    async def subscribe(interaction: discord.Interaction, channel: discord.TextChannel, role: discord.Role) -> None:
        seen.append((channel.id, interaction.permissions.manage_channels, role.id))
        await interaction.response.send_message("checked", ephemeral=True)

    async with connected(fake, client):
        synced = await client.tree.sync(guild=guild)
        assert sorted(c.name for c in synced) == ["ping", "slow", "subscribe"]
        options = [{"type": 7, "name": "channel", "value": str(ALERTS)}, {"type": 8, "name": "role", "value": "77"}]
        denied = fake.interact("subscribe", options, permissions=0)
        allowed = fake.interact("subscribe", options)
        await fake.wait_for(lambda f: denied.acknowledged and allowed.acknowledged)
        assert sorted(seen) == [(ALERTS, False, 77), (ALERTS, True, 77)]
        client.tree.remove_command("subscribe", guild=guild)
        synced = await client.tree.sync(guild=guild)
        assert sorted(c.name for c in synced) == ["ping", "slow"]
        assert sorted(c["name"] for c in fake.state.guild_commands[fake.guild_id]) == ["ping", "slow"]

        quick = fake.interact("ping", [{"type": 3, "name": "word", "value": "kvm"}], channel_id=PATCHES)
        await fake.wait_for(lambda f: quick.acknowledged)
        deferred = fake.interact("slow", channel_id=PATCHES)
        await fake.wait_for(lambda f: len(deferred.followup_ids) == 2)

    assert quick.callbacks == [{"type": 4, "data": quick.callbacks[0]["data"]}]
    answer = fake.state.messages_by_id[quick.original_message_id]
    assert answer.content == "pong kvm" and answer.flags & 64  # ephemeral
    assert deferred.response_type == 5
    original = fake.state.messages_by_id[deferred.original_message_id]
    # The first follow-up after a defer replaces the "thinking" message.
    assert deferred.followup_ids[0] == original.id and original.content == "done" and not original.flags & 128
    assert fake.state.messages_by_id[deferred.followup_ids[1]].content == "and one more"


async def test_http_control_routes(fake: FakeDiscord) -> None:
    async with connected(fake) as client, aiohttp.ClientSession(fake.base_url) as http:
        answer = await http.post("/_fake/faults", json={"rest": {"status": 429, "route": MESSAGES_ROUTE}})
        assert (await answer.json())["pending"][0]["route"] == MESSAGES_ROUTE
        await patches(client).send("via control")
        messages = await (await http.get("/_fake/messages")).json()
        assert [(m["content"], m["channel_id"], m["edited"]) for m in messages] == [("via control", str(PATCHES), 0)]
        requests = await (await http.get("/_fake/requests")).json()
        statuses = [r["status"] for r in requests if r["route"] == MESSAGES_ROUTE]
        assert statuses == [429, 200]
        bad = await http.post("/_fake/faults", json={"rest": {"status": 404}})
        assert bad.status == 400
        assert await (await http.get("/_fake/threads")).json() == []


async def test_standalone_process_prints_ready_line() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.fakediscord", "--port", "0", "--channels", f"{PATCHES},{ALERTS}",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("fakediscord ready ")
        fields = dict(part.split("=", 1) for part in line.split()[2:])
        assert fields["gateway"].startswith("ws://127.0.0.1:") and fields["gateway"].endswith("/gateway")
        async with aiohttp.ClientSession() as http:
            async with http.get(fields["api"] + "/gateway/bot") as gateway:
                assert gateway.headers["Content-Type"] == "application/json"
                assert (await gateway.json())["url"] == fields["gateway"]
            async with http.get(fields["api"] + f"/channels/{ALERTS}") as channel:
                assert (await channel.json())["name"] == "channel-2"
    finally:
        proc.terminate()
        await proc.wait()


async def test_archived_threads_and_deleted_messages(fake: FakeDiscord) -> None:
    async with connected(fake) as client:
        msg = await patches(client).send("series")
        thread = await msg.create_thread(name="series")
        await thread.edit(archived=True)
        assert fake.threads[0].archived
        await thread.send("posting unarchives")
        assert not fake.threads[0].archived
        fake.archive_thread(thread.id, locked=True)
        with pytest.raises(discord.HTTPException) as locked:
            await thread.send("refused")
        assert locked.value.code == 50083
        await msg.delete()
        digest = await patches(client).send("digest", file=discord.File(io.BytesIO(b"a" * 1000), "digest.txt"))
        assert digest.attachments[0].filename == "digest.txt" and digest.attachments[0].size == 1000
        with pytest.raises(discord.HTTPException) as too_big:
            await patches(client).send(file=discord.File(io.BytesIO(b"a" * (10 * 1024 * 1024 + 1)), "big.bin"))
        assert too_big.value.status == 413 and too_big.value.code == 40005
    assert [(m["content"], m["deleted"]) for m in fake.state.observed_messages()] == [
        ("series", True),
        ("posting unarchives", False),
        ("digest", False),
    ]
    assert fake.messages[-1].attachments[0].data == b"a" * 1000


def bot_session(fake: FakeDiscord) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(fake.api_base_url + "/", headers={"Authorization": "Bot fake-token"})


async def test_raw_rest_errors_and_headers(fake: FakeDiscord) -> None:
    async with bot_session(fake) as http:
        async with http.post(f"channels/{PATCHES}/messages", json={"content": "hi"}) as posted:
            assert posted.status == 200 and posted.headers["Content-Type"] == "application/json"
            assert int(posted.headers["X-RateLimit-Limit"]) >= int(posted.headers["X-RateLimit-Remaining"])
            assert float(posted.headers["X-RateLimit-Reset-After"]) >= 0 and posted.headers["X-RateLimit-Bucket"]
            message_id = (await posted.json())["id"]
        thread_route = f"channels/{PATCHES}/messages/{message_id}/threads"
        async with http.post(thread_route, json={"name": "x", "auto_archive_duration": 61}) as bad:
            assert bad.status == 400
            assert (await bad.json())["errors"]["auto_archive_duration"]["_errors"][0]["code"] == "BASE_TYPE_CHOICES"
        async with http.post(f"channels/{PATCHES}/messages", json={}) as empty:
            assert (await empty.json())["code"] == 50006
        async with http.get("channels/1/messages/2") as unknown:
            assert unknown.status == 404 and (await unknown.json())["code"] == 10003
        async with http.get("no/such/route") as missing:
            assert missing.status == 404 and missing.headers["Content-Type"] == "application/json"
    assert fake.threads == []


async def test_interaction_callback_rules() -> None:
    async with FakeDiscord(channels=[(PATCHES, "patches")], interaction_ack_timeout=0.0) as late_fake:
        async with bot_session(late_fake) as http:
            route = f"applications/{late_fake.application_id}/guilds/{late_fake.guild_id}/commands"
            async with http.put(route, json=[{"name": "ping", "description": "d"}]) as put:
                assert [c["name"] for c in await put.json()] == ["ping"]
            with pytest.raises(LookupError):
                late_fake.interact("unsynced")
            record = late_fake.interact("ping")
            callback = f"interactions/{record.id}/{record.token}/callback"
            async with http.post(callback, json={"type": 4, "data": {"content": "late"}}) as too_late:
                assert too_late.status == 404 and (await too_late.json())["code"] == 10062

    async with FakeDiscord(channels=[(PATCHES, "patches")]) as fake:
        async with bot_session(fake) as http:
            route = f"applications/{fake.application_id}/commands"
            async with http.put(route, json=[{"name": "Bad Name", "description": "d"}]) as bad:
                assert (await bad.json())["code"] == 50035
            async with http.put(route, json=[{"name": "ping", "description": "d"}]):
                pass
            record = fake.interact("ping", channel_id=PATCHES)
            callback = f"interactions/{record.id}/{record.token}/callback"
            async with http.post(callback, json={"type": 4, "data": {"content": "pong"}}) as first:
                assert first.status == 204
            async with http.post(callback, json={"type": 4, "data": {"content": "again"}}) as second:
                assert (await second.json())["code"] == 40060
            async with http.get(f"webhooks/{fake.application_id}/{record.token}/messages/@original") as original:
                assert (await original.json())["content"] == "pong"
        assert [m.content for m in fake.messages] == ["pong"]


async def test_wait_for_times_out(fake: FakeDiscord) -> None:
    with pytest.raises(TimeoutError):
        await fake.wait_for(lambda f: len(f.messages) > 0, timeout=0.05)


def test_both_stream_compressions_deliver_whole_frames() -> None:
    """Each frame decompresses whole, in order, with the decoder discord.py uses for the scheme."""
    import zlib

    import zstandard

    from tests.fakediscord.gateway import _stream_compressor

    frames = [b'{"op":10}', b'{"op":0,"t":"READY"}' * 50]
    zstd = _stream_compressor("zstd-stream")
    unzstd = zstandard.ZstdDecompressor().decompressobj()
    assert [unzstd.decompress(zstd(f)) for f in frames] == frames
    deflate = _stream_compressor("zlib-stream")
    inflate = zlib.decompressobj()
    for frame in frames:
        data = deflate(frame)
        assert data.endswith(b"\x00\x00\xff\xff")  # the Z_SYNC_FLUSH marker clients wait for
        assert inflate.decompress(data) == frame
    assert _stream_compressor(None) is None
