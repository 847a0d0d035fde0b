"""Verify mode, offline: a local public-inbox epoch as lore, mail by SMTP, and
the poller finding (counting, importing, announcing when recent) what never
arrived by SMTP."""

from __future__ import annotations

import asyncio
import json
import logging
import smtplib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.app import App
from bot.config import Settings

from tests.helpers import T0, patch_body, raw_mail

from .inbox import add_commit, new_epoch


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="mx.test", timeout=30) as c:
        c.sendmail("kvm+bounces@vger.kernel.org", ["kvm@localhost"], raw.replace(b"\n", b"\r\n"))


def _now_minutes() -> int:
    """raw_mail's `at` (minutes after T0) for a Date of now."""
    return int((datetime.now(timezone.utc) - T0).total_seconds() // 60)


async def test_verify_mode_imports_counts_and_announces_the_gaps(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = _now_minutes()
    history = raw_mail("h@x", "[PATCH] KVM: x86: Archived long ago", body=patch_body("archived"))
    a = raw_mail("a@x", "[PATCH] KVM: x86: Came by SMTP", at=now, body=patch_body("smtp"))
    b = raw_mail("b@x", "Re: [PATCH] KVM: x86: Came by SMTP", irt="a@x", at=now, body="Looks good.\n")
    c = raw_mail("c@x", "[PATCH] KVM: x86: Lost on the way", at=now, body=patch_body("lost"))
    d = raw_mail("d@x", "[PATCH] KVM: x86: Lost last year", at=60, body=patch_body("old"))

    lore = new_epoch(tmp_path / "lore.git")
    add_commit(lore, history)
    settings = Settings(
        smtp={"port": 0},
        store={"url": f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"},
        discord={"preview_file": tmp_path / "preview.jsonl"},
        poller={"enabled": True, "url": f"file://{lore}", "mirror": tmp_path / "mirror.git",
                "interval_seconds": 3600, "verify_recent_hours": 24},
    )
    app = App(settings)
    await app.start()
    try:
        assert app.poller is not None and app.sink is not None and app.verifier is not None
        await asyncio.wait_for(app.poller.polled.wait(), 30)  # the first poll: history, no gap counted
        assert app.poller.last_error is None and app.verifier.gaps == 0
        for raw in (a, b):
            await asyncio.to_thread(_send, app.sink.address[1], raw)
        for raw in (a, b, c, d):
            add_commit(lore, raw)
        with caplog.at_level(logging.WARNING, logger="bot.ingest.verify"):
            assert (await app.poller.poll()).imported == 4
        await app.workers[0].wait_idle(30)  # type: ignore[attr-defined]

        assert app.verifier.gaps == 2
        (line,) = [r.getMessage() for r in caplog.records if r.name == "bot.ingest.verify"]
        assert line.startswith("verify: 2 of 4 mails on lore never arrived by SMTP (1 recent, announced; 1 older")
        assert line.endswith("<c@x>, <d@x>")
        text = app.metrics.render().decode()
        assert "kvmbot_verify_gaps_total 2.0" in text.splitlines()
        sources = {m.message_id: m.source for m in await app.store.mails()}
        assert sources == {"h@x": "backfill:lore", "a@x": "smtp", "b@x": "smtp", "c@x": "lore", "d@x": "backfill:lore"}
    finally:
        await app.stop()
    posts = [json.loads(ln) for ln in (tmp_path / "preview.jsonl").read_text().splitlines()]
    titles = {e["title"] for p in posts if p["action"] == "send" for e in p["post"]["embeds"]}
    assert any("Came by SMTP" in t for t in titles) and any("Lost on the way" in t for t in titles)
    assert not any("Lost last year" in t or "Archived long ago" in t for t in titles)
