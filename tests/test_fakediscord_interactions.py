"""The fake's interactions: registration rules, components, autocomplete, modals,
callback types checked against the interaction, deadlines; unmodified discord.py
on one side, raw HTTP where discord.py would refuse to send the wrong thing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands

from tests.fakediscord import FakeDiscord, running
from tests.fakediscord.commands import Invalid

CHANNEL = 800000000000000021
OTHER_USER = 700000000000000001


class Probe(discord.Client):
    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.tree = app_commands.CommandTree(self)


def session(fake: FakeDiscord) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(fake.api_base_url + "/", headers={"Authorization": "Bot fake-token"})


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(channels=[(CHANNEL, "patches")]) as server:
        yield server


def _error(body: dict[str, Any], *path: str) -> str:
    node = body["errors"]
    for key in path:
        node = node[key]
    return node["_errors"][0]["code"]


async def _put(fake: FakeDiscord, commands: list[dict[str, Any]]) -> tuple[int, dict[str, Any] | list[Any]]:
    async with session(fake) as http:
        route = f"applications/{fake.application_id}/guilds/{fake.guild_id}/commands"
        async with http.put(route, json=commands) as answer:
            return answer.status, await answer.json()


def _opt(name: str, kind: int = 3, **extra: Any) -> dict[str, Any]:
    return {"type": kind, "name": name, "description": "d", **extra}


@pytest.mark.parametrize(
    "options,path,code",
    [
        ([_opt("a"), _opt("b", required=True)], ("0", "options", "1", "required"), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID"),
        ([_opt("a", choices=[{"name": str(i), "value": str(i)} for i in range(26)])], ("0", "options", "0", "choices"), "BASE_TYPE_MAX_LENGTH"),
        ([_opt("a", autocomplete=True, choices=[{"name": "x", "value": "x"}])], ("0", "options", "0", "autocomplete"), "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID"),
        ([_opt("a", kind=4, choices=[{"name": "x", "value": "x"}])], ("0", "options", "0", "choices", "0", "value"), "BASE_TYPE_BAD_TYPE"),
        ([_opt("sub", kind=1), _opt("plain")], ("0", "options"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID"),
        ([_opt("sub", kind=1, options=[_opt("grp", kind=2, options=[_opt("s", kind=1)])])], ("0", "options", "0", "options", "0", "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID"),
        ([_opt("grp", kind=2, options=[_opt("x")])], ("0", "options", "0", "options"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID"),
        ([_opt("Upper")], ("0", "options", "0", "name"), "APPLICATION_COMMAND_INVALID_NAME"),
        ([_opt("a"), _opt("a")], ("0", "options", "1", "name"), "APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS"),
        ([_opt("a", kind=5, max_length=10)], ("0", "options", "0", "max_length"), "BASE_TYPE_INVALID"),
        ([_opt("a", description="")], ("0", "options", "0", "description"), "BASE_TYPE_BAD_LENGTH"),
        ([_opt(f"o{i}") for i in range(26)], ("0", "options"), "BASE_TYPE_MAX_LENGTH"),
    ],
)
async def test_registration_rules_refuse_and_store_nothing(
    fake: FakeDiscord, options: list[dict[str, Any]], path: tuple[str, ...], code: str
) -> None:
    status, body = await _put(fake, [{"name": "ok", "description": "d", "options": options}])
    assert status == 400 and isinstance(body, dict) and body["code"] == 50035
    assert _error(body, *path) == code
    assert fake.state.guild_commands.get(fake.guild_id) is None


async def test_nested_commands_as_discord_py_builds_them_are_accepted(fake: FakeDiscord) -> None:
    client = Probe()
    group = app_commands.Group(name="series", description="series")
    sub = app_commands.Group(name="lineage", description="nested", parent=group)

    @group.command(name="show", description="one")
    @app_commands.describe(series="id")
    async def show(interaction: discord.Interaction, series: str, page: app_commands.Range[int, 1, 9] = 1) -> None:
        await interaction.response.send_message(f"{series} {page}")

    @sub.command(name="list", description="two")
    async def lineage(interaction: discord.Interaction, kind: app_commands.Choice[str]) -> None:
        await interaction.response.send_message(kind.value)

    lineage_cmd = sub.get_command("list")
    assert lineage_cmd is not None
    app_commands.choices(kind=[app_commands.Choice(name="all", value="all")])(lineage_cmd)
    client.tree.add_command(group, guild=discord.Object(fake.guild_id))
    async with running(fake, client):
        await client.tree.sync(guild=discord.Object(fake.guild_id))
        record = fake.interact("series", [{"type": 1, "name": "show", "options": [{"type": 3, "name": "series", "value": "42"}]}])
        await fake.answered(record)
        nested = [{"type": 2, "name": "lineage", "options": [{"type": 1, "name": "list", "options": [
            {"type": 3, "name": "kind", "value": "all"}]}]}]
        deep = await fake.answered(fake.interact("series", nested))
        # What no client would send: an unknown sub-command, a value outside the choices,
        # a missing required option, an integer out of range, the group without a sub-command.
        for bad in (
            [{"type": 1, "name": "nope", "options": []}],
            [{"type": 2, "name": "lineage", "options": [{"type": 1, "name": "list", "options": [
                {"type": 3, "name": "kind", "value": "other"}]}]}],
            [{"type": 1, "name": "show", "options": []}],
            [{"type": 1, "name": "show", "options": [{"type": 3, "name": "series", "value": "1"},
                                                     {"type": 4, "name": "page", "value": 10}]}],
            [],
        ):
            with pytest.raises(Invalid):
                fake.interact("series", bad)
    assert fake.state.messages_by_id[record.original_message_id or 0].content == "42 1"
    assert fake.state.messages_by_id[deep.original_message_id or 0].content == "all"


async def test_autocomplete_answers_at_most_25_choices(fake: FakeDiscord) -> None:
    client = Probe()
    wanted = {"n": 3}

    async def names(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=f"{current}-{i}", value=str(i)) for i in range(wanted["n"])]

    @client.tree.command(name="pick", description="d", guild=discord.Object(fake.guild_id))
    @app_commands.autocomplete(item=names)
    async def pick(interaction: discord.Interaction, item: str, other: str | None = None) -> None:
        await interaction.response.send_message(item)

    async with running(fake, client):
        await client.tree.sync(guild=discord.Object(fake.guild_id))
        typed = [{"type": 3, "name": "item", "value": "pi", "focused": True}]
        record = await fake.answered(fake.autocomplete("pick", typed))
        assert record.response_type == 8
        assert record.choices == [{"name": f"pi-{i}", "value": str(i)} for i in range(3)]
        wanted["n"] = 26
        refused = fake.autocomplete("pick", typed)
        await fake.wait_for(lambda f: any(
            r.route == "POST /interactions/{interaction_id}/{token}/callback" and r.status == 400 for r in f.requests
        ))
        assert not refused.acknowledged
        with pytest.raises(Invalid):  # no focused option, or a focus on an option without autocomplete
            fake.autocomplete("pick", [{"type": 3, "name": "item", "value": "x"}])
        with pytest.raises(Invalid):
            fake.autocomplete("pick", [{"type": 3, "name": "other", "value": "x", "focused": True}])


class Pager(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.presses: list[int] = []

    @discord.ui.button(label="Next", custom_id="next")
    async def next(self, interaction: discord.Interaction, button: discord.ui.Button[Pager]) -> None:
        self.presses.append(interaction.user.id)
        await interaction.response.edit_message(content=f"page {len(self.presses) + 1}", view=self)

    @discord.ui.button(label="Off", custom_id="off", disabled=True)
    async def off(self, interaction: discord.Interaction, button: discord.ui.Button[Pager]) -> None:
        raise AssertionError("a disabled button cannot be pressed")


async def test_buttons_update_their_message_and_only_what_a_client_can_press(fake: FakeDiscord) -> None:
    client = Probe()
    views: list[Pager] = []

    @client.tree.command(name="pages", description="d", guild=discord.Object(fake.guild_id))
    async def pages(interaction: discord.Interaction, hidden: bool = False) -> None:
        views.append(Pager())
        await interaction.response.send_message("page 1", view=views[-1], ephemeral=hidden)

    async with running(fake, client):
        await client.tree.sync(guild=discord.Object(fake.guild_id))
        shown = await fake.answered(fake.interact("pages"))
        message_id = shown.original_message_id or 0
        stored = fake.state.messages_by_id[message_id]
        assert [c["custom_id"] for c in stored.components[0]["components"]] == ["next", "off"]
        press = await fake.answered(fake.press(message_id, "next"))
        assert press.response_type == 7 and press.payload["message"]["id"] == str(message_id)
        assert stored.content == "page 2" and press.original_message_id == message_id
        with pytest.raises(LookupError):
            fake.press(message_id, "off")  # disabled
        with pytest.raises(LookupError):
            fake.press(message_id, "missing")
        hidden = await fake.answered(fake.interact("pages", [{"type": 5, "name": "hidden", "value": True}]))
        with pytest.raises(LookupError):  # someone else cannot see an ephemeral answer
            fake.press(hidden.original_message_id or 0, "next", user_id=OTHER_USER)
    assert views[0].presses == [fake.bot_id + 2]


async def test_callback_types_must_fit_the_interaction(fake: FakeDiscord) -> None:
    status, _ = await _put(fake, [{"name": "cmd", "description": "d", "options": [_opt("q", autocomplete=True)]}])
    assert status == 200
    async with session(fake) as http:

        async def answer(record: Any, kind: int, data: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
            body = {"type": kind, "data": data or {}}
            async with http.post(f"interactions/{record.id}/{record.token}/callback", json=body) as got:
                return got.status, (await got.json() if got.status != 204 else {})

        for kind in (6, 7, 8, 10, 12):
            status, body = await answer(fake.interact("cmd"), kind, {"choices": []})
            assert (status, _error(body, "type")) == (400, "INTERACTION_CALLBACK_TYPE_INVALID"), kind
        typing = [{"type": 3, "name": "q", "value": "k", "focused": True}]
        for kind in (4, 5, 6, 9):
            status, body = await answer(fake.autocomplete("cmd", typing), kind, {"content": "x"})
            assert status == 400, kind
        too_many = [{"name": str(i), "value": str(i)} for i in range(26)]
        status, body = await answer(fake.autocomplete("cmd", typing), 8, {"choices": too_many})
        assert (status, _error(body, "data", "choices")) == (400, "BASE_TYPE_MAX_LENGTH")
        status, body = await answer(fake.autocomplete("cmd", typing), 8, {"choices": [{"name": "", "value": "x"}]})
        assert _error(body, "data", "choices", "0", "name") == "BASE_TYPE_BAD_LENGTH"
        status, body = await answer(fake.interact("cmd"), 9, {"custom_id": "m", "title": "t" * 46, "components": []})
        assert (_error(body, "data", "title"), _error(body, "data", "components")) == ("BASE_TYPE_BAD_LENGTH",) * 2
        status, body = await answer(fake.interact("cmd"), 5, {"flags": 1 << 2})
        assert status == 400
        record = fake.interact("cmd")
        assert (await answer(record, 4, {"content": "fine"}))[0] == 204
        assert (await answer(record, 4, {"content": "again"}))[1]["code"] == 40060
    assert [m.content for m in fake.messages] == ["fine"]


class Ask(discord.ui.Modal, title="Why?"):
    answer: discord.ui.TextInput[Ask] = discord.ui.TextInput(label="Because", custom_id="because")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"got {self.answer.value}", ephemeral=True)


async def test_modal_submit_reaches_the_modal_and_cannot_open_another(fake: FakeDiscord) -> None:
    client = Probe()

    @client.tree.command(name="ask", description="d", guild=discord.Object(fake.guild_id))
    async def ask(interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(Ask(custom_id="why"))

    async with running(fake, client):
        await client.tree.sync(guild=discord.Object(fake.guild_id))
        opened = await fake.answered(fake.interact("ask"))
        assert opened.response_type == 9 and opened.modal is not None and opened.modal["title"] == "Why?"
        with pytest.raises(LookupError):  # opened for the invoking user only
            fake.submit_modal("why", {"because": "x"}, user_id=OTHER_USER)
        with pytest.raises(ValueError):
            fake.submit_modal("why", {"nope": "x"})
        submitted = await fake.answered(fake.submit_modal("why", {"because": "it is late"}))
    assert submitted.type == 5 and submitted.response_type == 4
    assert fake.state.messages_by_id[submitted.original_message_id or 0].content == "got it is late"


async def test_follow_ups_end_with_the_token() -> None:
    async with FakeDiscord(channels=[(CHANNEL, "patches")], interaction_token_lifetime=0.0) as fake:
        client = Probe()
        outcome: list[int] = []
        done = asyncio.Event()

        @client.tree.command(name="slow", description="d", guild=discord.Object(fake.guild_id))
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer()
            try:
                await interaction.followup.send("too late")
            except discord.HTTPException as exc:
                outcome.append(exc.code)
            done.set()

        async with running(fake, client):
            await client.tree.sync(guild=discord.Object(fake.guild_id))
            record = fake.interact("slow")
            await asyncio.wait_for(done.wait(), 10)
    assert outcome == [50027] and record.response_type == 5 and not record.followed_up


async def test_control_routes_wait_for_answers_buttons_and_autocomplete(fake: FakeDiscord) -> None:
    client = Probe()

    async def items(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=current.upper(), value=current)]

    @client.tree.command(name="later", description="d", guild=discord.Object(fake.guild_id))
    @app_commands.autocomplete(item=items)
    async def later(interaction: discord.Interaction, item: str) -> None:
        await interaction.response.defer(ephemeral=True)
        await interaction.followup.send(f"deferred {item}", view=Pager())

    async with running(fake, client), aiohttp.ClientSession(fake.base_url) as http:
        await client.tree.sync(guild=discord.Object(fake.guild_id))
        body = {"name": "later", "options": [{"type": 3, "name": "item", "value": "kvm"}], "user_id": str(OTHER_USER)}
        async with http.post("/_fake/interactions", json=body) as got:
            view = await got.json()
        assert [c["type"] for c in view["callbacks"]] == [5]
        assert view["original"]["content"] == "deferred kvm" and view["original"]["flags"] & 64
        press = {"message_id": view["original"]["id"], "custom_id": "next", "user_id": str(OTHER_USER)}
        async with http.post("/_fake/components", json=press) as got:
            pressed = await got.json()
        assert pressed["callbacks"][0]["type"] == 7 and pressed["original"]["content"] == "page 2"
        typing = {"name": "later", "options": [{"type": 3, "name": "item", "value": "pi", "focused": True}]}
        async with http.post("/_fake/autocomplete", json=typing) as got:
            assert (await got.json())["choices"] == [{"name": "PI", "value": "pi"}]
        async with http.post("/_fake/components", json={**press, "custom_id": "nope"}) as got:
            assert got.status == 400
        async with http.post("/_fake/interactions", json={"name": "later", "options": []}) as got:
            assert got.status == 400 and "required" in (await got.json())["message"]
