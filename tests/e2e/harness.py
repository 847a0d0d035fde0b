"""The service under test: App (real SMTP sink, SQLite store, delivery) against the fake Discord."""

from __future__ import annotations

import asyncio
import functools
import io
import smtplib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from bot.app import App
from bot.observe.metrics import Metrics
from bot.config import Settings, SubscriptionConfig
from bot.delivery import DeliveryService
from tests.fakediscord import FakeDiscord, pointed_at

GUILD = 5000
CARDS, ALERTS = 5101, 5102
ROLE = 5555


class FakeClock:
    """The delivery worker's clock (epoch seconds), moved by the test instead of sleeping."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def settings_for(
    fake: FakeDiscord, tmp: Path, subs: Sequence[SubscriptionConfig] | None = None, *, settle_seconds: float = 0.0
) -> Settings:
    # settle_seconds 0 by default: these tests check posts as each mail lands.
    return Settings(
        routing={"settle_seconds": settle_seconds},
        smtp={"host": "127.0.0.1", "port": 0},
        store={"url": f"sqlite+aiosqlite:///{tmp / 'bot.db'}"},
        discord={"token": "e2e-token", "api_base_url": fake.api_base_url, "gateway_url": fake.gateway_url},
        subscriptions=list(
            subs
            if subs is not None
            else [SubscriptionConfig(guild=GUILD, channel=CARDS, alert_channel=ALERTS, alert_role=ROLE)]
        ),
    )


class Service:
    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def delivery(self) -> DeliveryService:
        worker = self.app.workers[0]
        assert isinstance(worker, DeliveryService)
        return worker

    def _send(self, mails: Sequence[bytes]) -> None:
        assert self.app.sink is not None
        host, port = self.app.sink.address
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            for raw in mails:
                smtp.sendmail("list@vger.kernel.org", ["kvm@localhost"], raw)

    async def send(self, *mails: bytes) -> None:
        """Through the real SMTP sink; returns once every mail is acknowledged (committed)."""
        await asyncio.to_thread(self._send, mails)

    async def settle(self, timeout: float = 30.0) -> None:
        await self.delivery.wait_idle(timeout)


@asynccontextmanager
async def service(
    fake: FakeDiscord,
    tmp: Path,
    subs: Sequence[SubscriptionConfig] | None = None,
    *,
    settle_seconds: float = 0.0,
    clock: FakeClock | None = None,
) -> AsyncIterator[Service]:
    metrics = Metrics()
    starter = functools.partial(
        DeliveryService.start, stream=io.StringIO(), coalesce_delay=0.05, backoff=(0.05, 0.3), metrics=metrics,
        clock=clock or FakeClock(),
    )
    with pointed_at(fake):
        app = App(settings_for(fake, tmp, subs, settle_seconds=settle_seconds), workers=[starter], metrics=metrics)
        await app.start()
        try:
            yield Service(app)
        finally:
            await app.stop()


def footers(fake: FakeDiscord, channel_id: int | None = None) -> list[str]:
    msgs = fake.messages if channel_id is None else fake.messages_in(channel_id)
    return [m.embeds[0]["footer"]["text"] for m in msgs if m.embeds and not m.deleted]


def field(message: object, name: str) -> str:
    embed = message.embeds[0]  # type: ignore[attr-defined]
    return next(f["value"] for f in embed["fields"] if f["name"] == name)
