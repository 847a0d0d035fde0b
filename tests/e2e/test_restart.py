"""`kvm-patchbot run` killed with SIGKILL mid-series and restarted: every event posted once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import smtplib
import sys
from pathlib import Path

from bot.store import Store
from bot.store import delivery as q
from tests.fakediscord import FAST_RATE_LIMITS, FakeDiscord

from .harness import ALERTS, CARDS, GUILD, ROLE, field, footers
from tests.helpers import series, single

READY = re.compile(r"ready, SMTP on ([\d.]+):(\d+)")


async def start_run(fake: FakeDiscord, tmp: Path) -> tuple[asyncio.subprocess.Process, int]:
    env = {
        **os.environ,
        "KVMBOT_SMTP__HOST": "127.0.0.1",
        "KVMBOT_SMTP__PORT": "0",
        "KVMBOT_STORE__URL": f"sqlite+aiosqlite:///{tmp / 'bot.db'}",
        "KVMBOT_DISCORD__TOKEN": "restart-token",
        "KVMBOT_DISCORD__API_BASE_URL": fake.api_base_url,
        "KVMBOT_DISCORD__GATEWAY_URL": fake.gateway_url,
        "KVMBOT_SUBSCRIPTIONS": json.dumps(
            [{"guild": GUILD, "channel": CARDS, "alert_channel": ALERTS, "alert_role": ROLE}]
        ),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run",
        cwd=tmp, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    while True:
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line, "kvm-patchbot run exited before it was ready"
        if m := READY.search(line):
            return proc, int(m.group(2))


def send(port: int, mails: list[bytes]) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for raw in mails:
            smtp.sendmail("list@vger.kernel.org", ["kvm@localhost"], raw)


async def test_sigkill_mid_series_then_restart_posts_every_event_once(tmp_path: Path) -> None:
    big = series("k1", "Survive a crash", 6)
    other = series("k2", "Come after the crash", 2, minutes=20)
    fix = single("k3@example.com", "[PATCH] KVM: x86: Fix after restart",
                 trailers="Cc: stable@vger.kernel.org\n", minutes=30)
    async with FakeDiscord(guild_id=GUILD, channels=[(CARDS, "patches"), (ALERTS, "stable")], rate_limits=FAST_RATE_LIMITS) as fake:
        proc, port = await start_run(fake, tmp_path)
        try:
            await asyncio.to_thread(send, port, big[:5])  # the cover and 4 of 6 patches
            await fake.wait_for(lambda f: len(footers(f)) >= 2, timeout=30)
            # Discord fails from here on, so deliveries are likely still owed at the kill.
            await fake.set_outage("503")
        finally:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        await fake.set_outage(None)
        assert 2 <= len(footers(fake)) <= 5

        proc, port = await start_run(fake, tmp_path)
        try:
            await asyncio.to_thread(send, port, big[5:] + other + [fix])
            expected = (
                {"kvm-patchbot · series 1", "kvm-patchbot · series 2", "kvm-patchbot · series 3"}
                | {f"kvm-patchbot · series 1 · {i}/6" for i in range(1, 7)}
                | {f"kvm-patchbot · series 2 · {i}/2" for i in range(1, 3)}
                | {"kvm-patchbot · series 3 · stable"}  # a single patch: its card, no thread
            )

            def finished(f: FakeDiscord) -> bool:
                cards = f.messages_in(CARDS)
                return set(footers(f)) >= expected and all(
                    field(c, "Received").split()[0] in ("6/6", "2/2", "1/1") for c in cards
                )

            await fake.wait_for(finished, timeout=60)
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
        got = footers(fake)
        assert sorted(got) == sorted(expected)  # each exactly once, nothing else
        assert len(fake.threads) == 2  # the two series (the single patch has none)
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    try:
        counts = await q.count_by_status(store)
        assert counts.get("failed", 0) == 0
    finally:
        await store.close()
