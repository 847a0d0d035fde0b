"""End-to-end delivery benchmark: SMTP in, fake Discord out, each in its own process.

`kvm-patchbot run` (real SMTP sink, SQLite store, Discord delivery through
discord.py) talks to the fake Discord (`python -m tests.fakediscord`) with its
per-route rate limit raised out of the way, so rate-limit waits are excluded
(429s are counted and printed: they should be 0). One SMTP client sends
synthetic series (a cover and N patches each, in order) at a steady rate.

Figures printed (never asserted):
- latency from the end of DATA ("\\r\\n.\\r\\n" written by the client) to the
  first Discord request for that mail (the fake's log time of the card POST
  for a cover, of the thread message POST for a patch): p50, p99, max;
  target p99 < 100 ms;
- REST calls per N-patch series (card, thread, N patch messages, card edits):
  mean and max; target <= N + 3.

Usage: python bench/e2e.py [--rate 50] [--series 40] [--patches 4]

Live latency (`--latency RUNS`): one mail at a time, the service idle in
between, SMTP end of DATA to the first Discord request it causes, for a
single patch (its card) and for a series sent cover first (the series' card),
p50/p99 over RUNS of each, on SQLite and, with `--pg URL` (or
KVMBOT_TEST_PG_URL), on PostgreSQL (in a database of its own, dropped after).

    python bench/e2e.py --latency 30 --pg postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import json
import os
import re
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import BOT_READY, FAKE_READY, cpu_seconds, get, pct, start  # noqa: E402
from tests.e2e.mails import series  # noqa: E402  (synthetic, realistic patch mails)

GUILD, CARDS = 6000, 6101
SUBJECT = re.compile(rb"^Subject: (.*?)\r\n", re.M)


_VERBS = "Teach Rework Split Fold Harden Trim Cache Defer Batch Track".split()
_NOUNS = (
    "apic msr cpuid mmu tdp ept npt vmcs vmcb lapic ioapic pit hpet xsave fpu pmu "
    "tsc pvclock hyperv xen smm sev tdx nested async irqfd eventfd"
).split()


def distinct_title(i: int) -> str:
    """Titles unlike each other, so the tracker sees separate postings, not resends."""
    return f"{_VERBS[i % len(_VERBS)]} {_NOUNS[i // len(_VERBS) % len(_NOUNS)]} {_NOUNS[(i * 7 + 3) % len(_NOUNS)]} handling"


def send_paced(port: int, mails: list[bytes], rate: float) -> dict[bytes, float]:
    """One connection; mail i starts at t0 + i/rate. Returns subject -> end-of-DATA time."""
    ended: dict[bytes, float] = {}
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
        smtp.ehlo()
        t0 = time.monotonic()
        for i, raw in enumerate(mails):
            delay = t0 + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing the load, not synchronisation
            for code, msg in (smtp.mail("bench@localhost"), smtp.rcpt("kvm@localhost"), smtp.docmd("DATA")):
                assert code in (250, 354), (code, msg)
            smtp.send(raw + b"\r\n.\r\n")
            ended[SUBJECT.search(raw).group(1)] = time.time()  # type: ignore[union-attr]  # (every mail has one)
            code, msg = smtp.getreply()
            assert code == 250, (code, msg)
    return ended


def _subscriptions() -> str:
    return json.dumps([{"guild": GUILD, "channel": CARDS}])


def first_post_after(control: str, title: bytes, sent: float, timeout: float = 30.0) -> float:
    """ms from `sent` to the fake's log time of the first POST that made a message titled `title`."""
    deadline = time.monotonic() + timeout
    want = title.decode().replace("\\", "")
    while time.monotonic() < deadline:
        messages = get(control + "/messages")
        mine = [m for m in messages if m["embeds"] and m["embeds"][0].get("title", "").replace("\\", "") == want]
        if mine:
            requests = get(control + "/requests")
            posts = [
                r for r in requests
                if r["route"] == "POST /channels/{channel_id}/messages" and r["status"] == 200 and r["time"] >= sent
            ]
            return (min(r["time"] for r in posts) - sent) * 1000
        time.sleep(0.02)  # polling the bench's own control API, not synchronising a test
    raise SystemExit(f"no post for {want!r} within {timeout} s")


def send_one(smtp: smtplib.SMTP, raw: bytes) -> float:
    for code, msg in (smtp.mail("bench@localhost"), smtp.rcpt("kvm@localhost"), smtp.docmd("DATA")):
        assert code in (250, 354), (code, msg)
    smtp.send(raw + b"\r\n.\r\n")
    sent = time.time()
    code, msg = smtp.getreply()
    assert code == 250, (code, msg)
    return sent


def _fake_and_bot(tmp: str, store_url: str) -> tuple[subprocess.Popen[str], subprocess.Popen[str], int, str]:
    """The fake Discord and a `kvm-patchbot run` on `store_url` posting to it:
    (fake, bot, the bot's SMTP port, the fake's control URL)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fake, fm = start(
        [sys.executable, "-m", "tests.fakediscord", "--guild", str(GUILD), "--channels", f"{CARDS}",
         "--rate-limit", "100000/1"],
        FAKE_READY, env, ROOT,
    )
    api, gateway, control = fm.groups()
    bot_env = {
        **env, "KVMBOT_SMTP__HOST": "127.0.0.1", "KVMBOT_SMTP__PORT": "0",
        "KVMBOT_STORE__URL": store_url, "KVMBOT_DISCORD__TOKEN": "bench-token",
        "KVMBOT_DISCORD__API_BASE_URL": api, "KVMBOT_DISCORD__GATEWAY_URL": gateway,
        "KVMBOT_SUBSCRIPTIONS": _subscriptions(),
        "KVMBOT_LOG_LEVEL": os.environ.get("BENCH_BOT_LOG_LEVEL", "WARNING"),
    }
    bot, bm = start([sys.executable, "-m", "bot", "run"], BOT_READY, bot_env, Path(tmp))
    return fake, bot, int(bm.group(2)), control


def latency(store_url: str, runs: int, patches: int) -> tuple[list[float], list[float]]:
    """(single patch, series) latencies in ms, `runs` of each, on one store."""
    from tests.e2e.mails import single

    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        fake, bot, port, control = _fake_and_bot(tmp, store_url.replace("{tmp}", tmp))
        singles: list[float] = []
        serieses: list[float] = []
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                smtp.ehlo()
                for i in range(runs):
                    raw = single(f"lat-s{i}@example.com", f"[PATCH] KVM: x86: {distinct_title(i)} once", minutes=i)
                    title = SUBJECT.search(raw).group(1)  # type: ignore[union-attr]
                    singles.append(first_post_after(control, title, send_one(smtp, raw)))
                    mails = series(f"lat-p{i}", distinct_title(i + 1000), patches, minutes=i,
                                   directory=f"arch/x86/kvm/l{i}")
                    sent = send_one(smtp, mails[0])
                    for m in mails[1:]:
                        send_one(smtp, m)
                    title = SUBJECT.search(mails[0]).group(1)  # type: ignore[union-attr]
                    serieses.append(first_post_after(control, title, sent))
        finally:
            bot.terminate()
            bot.wait(30)
            fake.terminate()
            fake.wait(30)
    return singles, serieses


def _pg_database(url: str) -> tuple[str, Callable[[], None]]:
    """A fresh database beside `url`'s, and how to drop it."""
    import asyncio

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    base = url.replace("postgresql://", "postgresql+asyncpg://", 1)
    name = f"bench_e2e_{os.getpid()}"

    async def admin(sql: str) -> None:
        engine = create_async_engine(base, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(sql))
        finally:
            await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    head, _, _ = base.rpartition("/")
    return f"{head}/{name}", lambda: asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def report_latency(runs: int, patches: int, pg: str | None) -> None:
    targets: list[tuple[str, str, Callable[[], None] | None]] = [("SQLite", "sqlite+aiosqlite:///{tmp}/bench.db", None)]
    if pg:
        pg_url, pg_drop = _pg_database(pg)
        targets.append(("PostgreSQL", pg_url, pg_drop))
    for name, url, drop in targets:
        try:
            singles, serieses = latency(url, runs, patches)
        finally:
            if drop is not None:
                drop()
        for what, values in (("single patch", singles), (f"series of 1+{patches} (cover first)", serieses)):
            print(f"{name}: SMTP end of DATA -> first post, {what}: p50 {statistics.median(values):.1f} ms, "
                  f"p99 {pct(values, 99):.1f} ms, max {max(values):.1f} ms over {len(values)} runs")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--latency", type=int, default=0, metavar="RUNS",
                    help="live latency of a single patch and of a series, RUNS of each")
    ap.add_argument("--pg", default=os.environ.get("KVMBOT_TEST_PG_URL"), help="PostgreSQL URL for --latency")
    ap.add_argument("--rate", type=float, default=50.0, help="mails per second")
    ap.add_argument("--series", type=int, default=40)
    ap.add_argument("--patches", type=int, default=4, help="N, patches per series")
    ap.add_argument("--worst", type=int, default=0, help="also print the N slowest mails (time since start, ms)")
    args = ap.parse_args()
    n = args.patches
    if args.latency:
        report_latency(args.latency, n, args.pg)
        return 0
    mails = [
        m
        for i in range(args.series)
        for m in series(f"b{i}", distinct_title(i), n, minutes=i, directory=f"arch/x86/kvm/d{i}")
    ]

    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        fake, bot, port, control = _fake_and_bot(tmp, f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            cpu0 = cpu_seconds(bot.pid), cpu_seconds(fake.pid)
            t0 = time.monotonic()
            ended = send_paced(port, mails, args.rate)
            elapsed = time.monotonic() - t0
            want = args.series * (1 + n)  # cards + patch messages
            deadline = time.monotonic() + 120
            while True:  # the bench polls the fake's control API; tests wait on conditions
                messages = get(control + "/messages")
                if len(messages) >= want or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            time.sleep(3.0)  # let owed card edits (max_edit_delay 2 s) land before counting calls
            cpu1 = cpu_seconds(bot.pid), cpu_seconds(fake.pid)
            messages = get(control + "/messages")
            requests = get(control + "/requests")
        finally:
            bot.terminate()
            bot.wait(30)
            fake.terminate()
            fake.wait(30)

    # Match messages to their POST requests: per channel, both are in creation order.
    posts_by_path: dict[str, list[dict]] = defaultdict(list)
    for r in requests:
        if r["method"] == "POST" and r["route"] == "POST /channels/{channel_id}/messages" and r["status"] == 200:
            posts_by_path[r["path"]].append(r)
    msgs_by_channel: dict[str, list[dict]] = defaultdict(list)
    for m in messages:
        msgs_by_channel[m["channel_id"]].append(m)
    latencies: list[float] = []
    timeline: list[tuple[float, float, str]] = []  # (latency ms, sent at s, subject)
    for channel_id, msgs in msgs_by_channel.items():
        reqs = posts_by_path[f"/api/v10/channels/{channel_id}/messages"]
        for m, r in zip(sorted(msgs, key=lambda m: int(m["id"])), reqs, strict=False):
            subject = m["embeds"][0]["title"].replace("\\", "").encode()
            if subject in ended:
                latencies.append((r["time"] - ended[subject]) * 1000)
                timeline.append((latencies[-1], ended[subject] - min(ended.values()), subject.decode()[:60]))

    # REST calls per series: card POST, thread POST, thread message POSTs, card PATCHes.
    card_of_thread = {m["thread_id"]: m["id"] for m in messages if m.get("thread_id")}
    calls: dict[str, int] = defaultdict(int)
    kinds: dict[str, list[str]] = defaultdict(list)
    for r in requests:
        parts = r["path"].split("/")
        if len(parts) < 6 or parts[3] != "channels" or r["status"] >= 400:
            continue
        channel = parts[4]
        if channel == str(CARDS) and len(parts) >= 7:  # .../messages/{card}[/threads]
            calls[parts[6]] += 1
            kinds[parts[6]].append(r["route"])
        elif channel == str(CARDS):
            continue  # card creation: counted below from the card messages
        elif channel in card_of_thread:
            calls[card_of_thread[channel]] += 1
    for m in messages:
        if m["channel_id"] == str(CARDS):
            calls[m["id"]] += 1
    per_series = list(calls.values())
    worst = max(calls, key=lambda k: calls[k], default=None)
    if worst is not None and calls[worst] > n + 3:
        print(f"series with the most calls: card {worst}: card POST, {len(kinds[worst])} calls on the card: "
              f"{kinds[worst]}, the rest in its thread")
    rate_limited = sum(1 for r in requests if r["status"] == 429)

    print(f"sent {len(mails)} mails ({args.series} series of 1+{n}) in {elapsed:.1f} s = {len(mails) / elapsed:.1f} mails/s")
    print(f"CPU per mail: bot {(cpu1[0] - cpu0[0]) / len(mails) * 1000:.1f} ms, fake Discord "
          f"{(cpu1[1] - cpu0[1]) / len(mails) * 1000:.1f} ms; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"Discord messages: {len(messages)} of {args.series * (1 + n)} expected; 429 answers: {rate_limited}")
    if latencies:
        print(
            f"end of DATA -> first Discord request: p50 {statistics.median(latencies):.1f} ms, "
            f"p99 {pct(latencies, 99):.1f} ms, max {max(latencies):.1f} ms over {len(latencies)} mails "
            f"(target p99 < 100 ms)"
        )
    for ms, at, subject in sorted(timeline, reverse=True)[: args.worst]:
        print(f"  {ms:7.1f} ms  sent at {at:6.2f} s  {subject}")
    if per_series:
        print(
            f"REST calls per {n}-patch series: mean {statistics.mean(per_series):.2f}, max {max(per_series)} "
            f"(target <= N + 3 = {n + 3})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
