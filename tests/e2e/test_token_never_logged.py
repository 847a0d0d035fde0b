"""The Discord token is used, and never written to a log, even at DEBUG."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.fakediscord import FakeDiscord

from .harness import ALERTS, CARDS, GUILD, service
from tests.helpers import single

TOKEN = "e2e-token"  # what tests/e2e/harness.py's settings give the bot


async def test_a_running_bot_logs_its_token_nowhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # discord.py, aiohttp, the sink, the store: everything
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")]) as fake:
        async with service(fake, tmp_path) as svc:
            await svc.send(single("tok-1", "[PATCH] KVM: x86: Keep the token to yourself"))
            await svc.settle()
        assert fake.messages_in(CARDS), "the bot logged in with the token and posted"
    ours = [r for r in caplog.records if not r.name.startswith("tests.")]  # the fake Discord's own logs aside
    assert len(ours) > 20, "DEBUG logging reached the libraries"
    leaks = [f"{r.name}: {r.getMessage()}" for r in ours if TOKEN in r.getMessage() or TOKEN in str(r.args)]
    assert not leaks, leaks
