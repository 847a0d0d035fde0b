"""The fake's /_fake control routes driving the bot over HTTP, as outside checks do:
POST /_fake/interactions, /_fake/autocomplete and /_fake/components."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.store import Store
from tests.discord.commands import HERE, MANAGE_CHANNELS, MEMBER, bot_running
from tests.helpers import patch_body, raw_mail


async def _post(http: aiohttp.ClientSession, route: str, body: dict[str, Any]) -> dict[str, Any]:
    async with http.post(route, json=body) as got:
        assert got.status == 200, await got.text()
        return await got.json()


async def test_commands_buttons_and_autocomplete_over_http(store: Store) -> None:
    for i in range(12):
        await store.ingest(raw_mail(f"g{i}@x", f"[PATCH] KVM: x86: Gadget change {i}", at=i, body=patch_body("g")))
    async with bot_running(store) as on, aiohttp.ClientSession(on.fake.base_url) as http:
        who = {"channel_id": str(HERE), "user_id": str(MEMBER)}
        subscribed = await _post(http, "/_fake/interactions", {
            "name": "subscribe", "permissions": str(MANAGE_CHANNELS), **who,
            "options": [{"type": 3, "name": "subsystem", "value": "KVM: x86"}],
        })
        assert subscribed["callbacks"][0]["type"] == 4 and subscribed["original"]["flags"] & 64
        assert "Subscription #1 added" in subscribed["original"]["embeds"][0]["title"]
        assert subscribed["followups"] == []

        choices = await _post(http, "/_fake/autocomplete", {"name": "series", "options": [
            {"type": 1, "name": "show", "options": [{"type": 3, "name": "series", "value": "gadg", "focused": True}]}]})
        assert [c["name"] for c in choices["choices"]][:2] == ["#12 v1 KVM: x86: Gadget change 11",
                                                             "#11 v1 KVM: x86: Gadget change 10"]

        found = await _post(http, "/_fake/interactions", {"name": "series", **who, "options": [
            {"type": 1, "name": "search", "options": [{"type": 3, "name": "query", "value": "gadget"}]}]})
        page = found["original"]
        (row,) = page["components"]
        next_id = next(c["custom_id"] for c in row["components"] if c["label"] == "Next")
        pressed = await _post(http, "/_fake/components", {"message_id": page["id"], "custom_id": next_id,
                                                          "user_id": str(MEMBER)})
        assert pressed["callbacks"][0]["type"] == 7
        assert pressed["original"]["id"] == page["id"] and "Gadget change 0" in pressed["original"]["embeds"][0]["description"]

        async with http.post("/_fake/interactions", json={"name": "series", "options": []}) as impossible:
            assert impossible.status == 400  # a command with sub-commands is invoked through one
