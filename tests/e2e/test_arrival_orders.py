"""Done-when of issue 12: the same Discord state and `series --jsonl` for any arrival order.

The 42 x86 threads go through the real service (SMTP sink, SQLite store,
delivery worker, discord.py) into the fake Discord, in four orders: by Date;
by Date plus a seeded random 0-120 s hold-up per mail (the worker's clock is
moved to each arrival, never slept on); each thread reversed; and fully
shuffled. Subscriptions filter by subsystem, path and author. Every order
must leave each channel with the same cards (final text) and the same thread
messages in the same order, and print the same series.

The worker's clock moves in steps (`arrivals.steps`): mails close in time
share one, where that changes no answer of the settle rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import smtplib
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.config import SubscriptionConfig, SubscriptionFilter
from tests.fakediscord import FAST_RATE_LIMITS, FakeDiscord

from . import arrivals
from .harness import FakeClock, Service, service

GUILD = 5000
ALL, ALERTS, SVM, MMU, AUTHOR = 5101, 5102, 5201, 5202, 5203
SETTLE = 180.0
SUBS = [
    SubscriptionConfig(guild=GUILD, channel=ALL, alert_channel=ALERTS),
    SubscriptionConfig(guild=GUILD, channel=SVM, filter=SubscriptionFilter(subsystems=["KVM: SVM"])),
    SubscriptionConfig(guild=GUILD, channel=MMU, filter=SubscriptionFilter(paths=["arch/x86/kvm/mmu/*"])),
    SubscriptionConfig(guild=GUILD, channel=AUTHOR, filter=SubscriptionFilter(authors=["Sean Christopherson"])),
]
CHANNELS = [(ALL, "all"), (ALERTS, "stable"), (SVM, "svm"), (MMU, "mmu"), (AUTHOR, "sean")]

_SNOWFLAKE = re.compile(r"\d{15,}")
_SERIES_NO = re.compile(r"series \d+")


def _norm(text: str) -> str:
    """Ids that depend on arrival order (Discord snowflakes, series numbers) blanked."""
    return _SERIES_NO.sub("series #", _SNOWFLAKE.sub("#", text))


def _shown(message: Any) -> str:
    """A message as a reader sees it: its text and embeds, reviews and applied state included."""
    return _norm(json.dumps({"content": message.content, "embeds": message.embeds}, sort_keys=True))


def discord_state(fake: FakeDiscord) -> dict[int, list[tuple[str, tuple[str, ...]]]]:
    """Per channel: each card's final text with its thread's messages in order
    (cards sorted: their order in the channel follows unrelated series' timing)."""
    out: dict[int, list[tuple[str, tuple[str, ...]]]] = {}
    for channel_id, _ in CHANNELS:
        entries = []
        for m in fake.messages_in(channel_id):
            thread = () if m.thread_id is None else tuple(_shown(x) for x in fake.messages_in(m.thread_id))
            entries.append((_shown(m), thread))
        out[channel_id] = sorted(entries)
    return out


def _series_jsonl(url: str) -> list[dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["series", "--jsonl", "--db", url]) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def normal_series(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`series --jsonl` with series and lineage numbers replaced by what they
    stand for (a series by its first member's Message-ID, a lineage by its series)."""
    key = {r["series_id"]: min(p["message_id"] for p in r["patches"]) for r in rows}
    lineages: dict[int, list[str]] = {}
    for r in rows:
        lineages.setdefault(r["lineage_id"], []).append(key[r["series_id"]])
    out = []
    for r in rows:
        r = dict(r)
        for f in ("series_id", "supersedes", "superseded_by", "duplicate_of"):
            if r.get(f) is not None:
                r[f] = key[r[f]]
        r["lineage_id"] = sorted(lineages[r["lineage_id"]])
        out.append(r)
    return sorted(out, key=lambda r: r["series_id"])


class Sender:
    """One SMTP session into the service's sink; the worker's clock follows arrivals."""

    def __init__(self, svc: Service, clock: FakeClock) -> None:
        assert svc.app.sink is not None
        self.svc, self.clock = svc, clock
        self.smtp = smtplib.SMTP(timeout=60)

    async def connect(self) -> None:
        # In a thread: the sink answers from this very event loop.
        assert self.svc.app.sink is not None
        await asyncio.to_thread(self.smtp.connect, *self.svc.app.sink.address)

    async def send_all(self, timed: list[tuple[float, arrivals.Mail]]) -> None:
        worker = self.svc.delivery.worker
        for at, burst in arrivals.steps(timed, SETTLE):
            if at > self.clock.now:
                # Everything that came before is routed at the time it came.
                await worker.wait_quiet(60)
                self.clock.now = at
            await asyncio.to_thread(self._send, [m.raw for m in burst])
        await worker.wait_quiet(60)
        self.clock.advance(10 * SETTLE)  # every settle window over
        await self.svc.settle(120)

    def _send(self, mails: list[bytes]) -> None:
        for raw in mails:
            self.smtp.sendmail("list@vger.kernel.org", ["kvm@localhost"], raw)

    async def close(self) -> None:
        await asyncio.to_thread(self.smtp.quit)


async def run_order(tmp: Path, timed: list[tuple[float, arrivals.Mail]]) -> tuple[dict[int, Any], list[dict[str, Any]]]:
    clock = FakeClock(timed[0][0])
    async with FakeDiscord(guild_id=GUILD, channels=CHANNELS, rate_limits=FAST_RATE_LIMITS) as fake:
        async with service(fake, tmp, SUBS, settle_seconds=SETTLE, clock=clock) as svc:
            sender = Sender(svc, clock)
            await sender.connect()
            try:
                await sender.send_all(timed)
            finally:
                await sender.close()
        state = discord_state(fake)
    rows = await asyncio.to_thread(_series_jsonl, f"sqlite:///{tmp / 'bot.db'}")
    return state, normal_series(rows)


@pytest.fixture(scope="module")
def threads() -> list[list[arrivals.Mail]]:
    return arrivals.load()


@pytest.fixture(scope="module")
def by_date(threads: list[list[arrivals.Mail]], tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[int, Any], list[dict[str, Any]]]:
    return asyncio.run(run_order(tmp_path_factory.mktemp("date"), arrivals.by_date(threads)))


def test_date_order_gives_filtered_channels_and_index_ordered_threads(by_date: Any) -> None:
    state, rows = by_date
    assert len(rows) >= 42
    hyperv = [r for r in rows if r["total"] == 48 and "TLB flush" in r["title"]]
    assert hyperv and all(r["subsystem"] != "KVM: SVM" for r in hyperv)
    cards_everywhere = {c: len(v) for c, v in state.items()}
    assert cards_everywhere[ALL] >= 42 and 0 < cards_everywhere[SVM] < cards_everywhere[ALL]
    assert 0 < cards_everywhere[MMU] < cards_everywhere[ALL]
    assert 0 < cards_everywhere[AUTHOR] < cards_everywhere[ALL]
    for card, _ in state[SVM]:
        assert "SVM" in card
    for channel in (ALL, SVM, MMU, AUTHOR):
        for _, thread in state[channel]:
            indexes = [int(m) for t in thread for m in re.findall(r"series # · (\d+)/\d+", t)]
            assert indexes == sorted(indexes), indexes


ORDERS = {
    "delayed": lambda th: arrivals.delayed(th, seed=12),
    "reversed": arrivals.reversed_threads,
    "shuffled": lambda th: arrivals.shuffled(th, seed=7),
}


# All four orders pass. On a quiet 2-core machine they take 71 s (Date),
# 67 s (reversed), 81 s (delayed) and 117 s (shuffled): the default suite runs
# Date and the fully shuffled order, the one that departs most from it; the
# other two run when asked (KVMBOT_ARRIVAL_ORDERS=1).
ALL_ORDERS = os.environ.get("KVMBOT_ARRIVAL_ORDERS") == "1"
_ASKED = pytest.mark.skipif(
    not ALL_ORDERS, reason="set KVMBOT_ARRIVAL_ORDERS=1 for the delayed and reversed orders too (~2.5 min; issue 12)"
)


@pytest.mark.parametrize("order", [o if o == "shuffled" else pytest.param(o, marks=_ASKED) for o in sorted(ORDERS)])
def test_every_arrival_order_gives_the_date_order_state(
    order: str, threads: list[list[arrivals.Mail]], by_date: Any, tmp_path: Path
) -> None:
    state, rows = asyncio.run(run_order(tmp_path, ORDERS[order](threads)))
    want_state, want_rows = by_date
    for channel, _ in CHANNELS:
        assert state[channel] == want_state[channel], f"channel {channel} differs in order {order}"
    assert rows == want_rows
