"""Metrics, /healthz and JSON logs: in-process against a real store and sink,
and `kvm-patchbot run` as a process scraped over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import smtplib
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from bot.app import App
from bot.config import Settings
from bot.observe.metrics import Metrics

ROOT = Path(__file__).resolve().parent.parent


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=30) as c:
        c.sendmail("kvm+bounces@vger.kernel.org", ["kvm@localhost"], raw.replace(b"\n", b"\r\n"))


def _seed(seed_dir: Path) -> list[bytes]:
    return [p.read_bytes() for p in sorted(seed_dir.glob("*.eml"))]


def sample(text: str, name: str) -> float | None:
    """The value of one sample (`name` with its labels, as written) in Prometheus text."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


async def _get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


async def test_metrics_and_health_follow_mail_delivery_and_a_lost_store(tmp_path: Path, seed_dir: Path) -> None:
    where = tmp_path / "var"
    where.mkdir()
    settings = Settings(
        smtp={"port": 0},
        store={"url": f"sqlite+aiosqlite:///{where / 'bot.db'}"},
        discord={"preview_file": tmp_path / "preview.jsonl"},
        metrics={"port": 0},
    )
    app = App(settings)
    await app.start()
    try:
        assert app.sink is not None and app.metrics_server is not None
        base = "http://{}:{}".format(*app.metrics_server.address)
        status, ctype, body = await _get(base + "/healthz")
        assert status == 200 and ctype.startswith("application/json")
        assert json.loads(body) == {"status": "ok", "checks": {"store": "ok", "sink": "ok"}}

        mails = _seed(seed_dir)[:5]
        for raw in mails + mails[:1]:
            await asyncio.to_thread(_send, app.sink.address[1], raw)
        await app.workers[0].wait_idle(30)  # type: ignore[attr-defined]
        status, ctype, text = await _get(base + "/metrics")
        assert status == 200 and ctype.startswith("text/plain")
        assert sample(text, 'kvmbot_mails_received_total{source="smtp"}') == 6
        assert sample(text, "kvmbot_mails_duplicate_total") == 1
        assert sample(text, "kvmbot_mails_unparseable_total") == 0
        assert sample(text, "kvmbot_smtp_commit_seconds_count") == 6
        assert sample(text, "kvmbot_outbox_pending") == 0 and sample(text, "kvmbot_outbox_oldest_age_seconds") == 0
        posted = len((tmp_path / "preview.jsonl").read_text().splitlines())
        assert posted and sample(text, "kvmbot_delivery_latency_seconds_count") == await app.store.count("deliveries")
        assert sample(text, "kvmbot_discord_requests_total") is None  # preview: no Discord at all

        shutil.rmtree(where)  # the store's directory removed while running
        with pytest.raises(smtplib.SMTPDataError):
            await asyncio.to_thread(_send, app.sink.address[1], _seed(seed_dir)[6])
        status, _, body = await _get(base + "/healthz")
        health = json.loads(body)
        assert status == 503 and health["status"] == "failing" and health["checks"]["sink"] == "ok"
        assert "was removed" in health["checks"]["store"]
    finally:
        await app.stop()


async def test_the_outbox_gauges_count_what_is_still_owed(tmp_path: Path, seed_dir: Path) -> None:
    app = App(Settings(smtp={"port": 0}, store={"url": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"}), workers=[])
    await app.start()
    try:
        assert app.sink is not None
        for raw in _seed(seed_dir)[:3]:
            await asyncio.to_thread(_send, app.sink.address[1], raw)
        await app.refresh_metrics()
        text = app.metrics.render().decode()
        assert sample(text, "kvmbot_outbox_pending") == await app.store.count("events") > 0  # nothing routed them
        assert sample(text, "kvmbot_outbox_oldest_age_seconds") > 0  # type: ignore[operator]
    finally:
        await app.stop()


async def test_discord_responses_are_counted_by_status() -> None:
    """The trace handed to discord.py's HTTP session, against a real HTTP server."""
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({}, status=int(request.match_info["code"]))

    server = web.Application()
    server.router.add_get("/{code}", handler)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    metrics = Metrics()
    try:
        async with aiohttp.ClientSession(trace_configs=[metrics.discord_trace()]) as http:
            for code in (200, 200, 429, 404):
                async with http.get(f"http://127.0.0.1:{port}/{code}") as resp:
                    await resp.read()
            with pytest.raises(aiohttp.ClientError):
                await http.get("http://127.0.0.1:9/")  # nothing listens: counted as an error
    finally:
        await runner.cleanup()
    text = metrics.render().decode()
    got = {s: sample(text, f'kvmbot_discord_requests_total{{status="{s}"}}') for s in ("200", "429", "404", "error")}
    assert got == {"200": 2, "429": 1, "404": 1, "error": 1}


async def test_run_serves_metrics_and_writes_json_logs(tmp_path: Path, seed_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVMBOT_")}
    env.update(
        PYTHONPATH=str(ROOT), KVMBOT_SMTP__PORT="0", KVMBOT_METRICS__PORT="0", KVMBOT_LOG_FORMAT="json",
        KVMBOT_DISCORD__PREVIEW_FILE=str(tmp_path / "preview.jsonl"),
    )
    with open(tmp_path / "stderr.log", "wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=err
        )
        assert proc.stdout is not None
        try:
            line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
            ready = re.search(r"SMTP on [\d.]+:(\d+), .*metrics on ([\d.]+):(\d+)", line)
            assert ready, (line, (tmp_path / "stderr.log").read_text())
            await asyncio.to_thread(_send, int(ready.group(1)), _seed(seed_dir)[0])
            status, _, text = await _get(f"http://{ready.group(2)}:{ready.group(3)}/metrics")
            assert status == 200 and sample(text, 'kvmbot_mails_received_total{source="smtp"}') == 1
            status, _, _ = await _get(f"http://{ready.group(2)}:{ready.group(3)}/healthz")
            assert status == 200
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    records = [json.loads(ln) for ln in (tmp_path / "stderr.log").read_text().splitlines() if ln.strip()]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    assert any(r["logger"] == "bot.observe.http" and "metrics on http://" in r["message"] for r in records)
