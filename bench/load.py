"""Load: SMTP in at a steady rate, 50 subscribed channels in two guilds on the
fake Discord, on SQLite (one `kvm-patchbot run`) or PostgreSQL (several).

Mails are series (a cover and --patches patches), series k by author
k % --authors and touching arch/x86/kvm/d{k % 50}/, and channel j subscribes to arch/x86/kvm/d{j}/*: each
series goes to one channel, the 50 channels spread over two guilds. Senders
(--connections SMTP connections, spread over the processes' sinks: 16 a sink
unless given) pace the mails to --rate per second for --seconds. The fake's rate limits are raised
out of the way (429s are counted: they should be 0).

Figures printed (never asserted):
- mails lost (acknowledged with 250 but not stored) and posts lost and
  duplicated (each expected card and patch post made exactly once): must be 0;
- SMTP to post: end of DATA to the POST that made the mail's message, p50/p99;
  and by when the mail arrived, in 10 s spans (a steady lag or one stall);
- peak resident memory (VmHWM) of each `kvm-patchbot run` process.

Usage:
  python bench/load.py [--seconds 60] [--rate 200]                    # SQLite, one process
  python bench/load.py --pg postgresql://postgres@127.0.0.1/test --processes 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.helpers

from bench.common import BOT_READY, FAKE_READY, ROOT, cpu_seconds, get, peak_rss_mb, pct, send_mails, start, wire  # noqa: E402
from tests.helpers import SMTP_AUTHOR, series  # noqa: E402  (synthetic, realistic patch mails)

G1, G2 = 6000 << 22, 6001 << 22  # two guilds (on shards 0 and 1 of 2)
CHANNELS = 50
SETTLE = float(os.environ.get("BENCH_SETTLE", "180"))  # seconds after the last mail for the posts to arrive


def channel_id(j: int) -> int:
    return 6100 + j


def guild_of(j: int) -> int:
    return G1 if j < CHANNELS // 2 else G2


def authored(raw: bytes, k: int) -> bytes:
    """The mail as author k wrote it: the tracker compares a new series' title with
    its author's other series, so one author for every series is a worst case."""
    return raw.replace(SMTP_AUTHOR.encode(), f"Dev {k} <dev{k}@example.com>".encode())


async def send_all(
    ports: list[int], shares: list[list[tuple[str, bytes]]], rate: float
) -> tuple[dict[str, float], list[str], list[float]]:
    """Every share on its own connection (round robin over the sinks), paced
    to `rate` in all; (end-of-DATA time by Message-ID, the Message-IDs answered
    250, end of DATA -> 250 in ms)."""
    ended: dict[str, float] = {}
    acked: list[str] = []
    waits: list[float] = []

    async def one(port: int, share: list[tuple[str, bytes]]) -> None:
        def at_end(i: int, t: float) -> None:
            ended[share[i][0]] = t

        def at_reply(i: int, code: int, seconds: float) -> None:
            if code == 250:
                acked.append(share[i][0])
                waits.append(seconds * 1000)

        await send_mails(port, [w for _, w in share], rate=rate / len(shares), ended=at_end, answered=at_reply)

    await asyncio.gather(*(one(ports[c % len(ports)], share) for c, share in enumerate(shares)))
    return ended, acked, waits


async def stored_ids(url: str, schema: str | None) -> tuple[set[str], dict[str, int]]:
    """The stored Message-IDs, and the deliveries by status."""
    from sqlalchemy import select

    from bot.store import Store
    from bot.store import delivery as q
    from bot.store import schema as t

    store = await Store.open(url, schema=schema)
    try:
        async with store.engine.connect() as conn:
            return set(await conn.scalars(select(t.mails.c.message_id))), await q.count_by_status(store)
    finally:
        await store.close()


def make_schema(url: str, name: str, drop: bool = False) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from bot.store.url import async_url

    async def go() -> None:
        engine = create_async_engine(async_url(url))
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE' if drop else f'CREATE SCHEMA "{name}"'))
        await engine.dispose()

    asyncio.run(go())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=200.0, help="mails per second, over all connections")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--patches", type=int, default=3, help="patches per series (each series: 1 + N mails)")
    ap.add_argument("--connections", type=int,
                    help="SMTP connections in all, spread over the processes' sinks (default 16 a sink: as an MTA "
                         "opens its connections to each next hop, each sink sees what the one SQLite sink does)")
    ap.add_argument("--authors", type=int, default=200,
                    help="distinct authors, series k by author k %% N (the list has hundreds; 1: one author's series all compared)")
    ap.add_argument("--pg", metavar="URL", help="PostgreSQL URL (a fresh schema is made and dropped); default SQLite")
    ap.add_argument("--processes", type=int, default=1, help="kvm-patchbot run processes (PostgreSQL only above 1)")
    args = ap.parse_args()
    if args.processes > 1 and not args.pg:
        ap.error("several processes need --pg (SQLite is one process)")
    if args.connections is None:
        args.connections = 16 * args.processes
    n = args.patches
    total = int(args.rate * args.seconds)
    n_series = max(1, total // (1 + n))
    mails = [authored(m, i % args.authors) for i in range(n_series)
             for m in series(f"L{i}", f"Load {i} work", n, minutes=i, directory=f"arch/x86/kvm/d{i % CHANNELS}")]
    subs = [{"guild": guild_of(j), "channel": channel_id(j), "filter": {"paths": [f"arch/x86/kvm/d{j}/*"]}}
            for j in range(CHANNELS)]
    schema = "load_" + uuid.uuid4().hex[:10] if args.pg else None
    procs: list[Any] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("KVMBOT_")}, "PYTHONPATH": str(ROOT)}
        first = ",".join(str(channel_id(j)) for j in range(CHANNELS // 2))
        second = ",".join(str(channel_id(j)) for j in range(CHANNELS // 2, CHANNELS))
        fake, fm = start(
            [sys.executable, "-m", "tests.fakediscord", "--guild", str(G1), "--channels", first,
             "--more-guild", f"{G2}={second}", "--rate-limit", "1000000/1", "--global-rate-limit", "1000000"],
            FAKE_READY, env, ROOT, profile="fake",
        )
        api, gateway, control = fm.groups()
        url = args.pg or f"sqlite+aiosqlite:///{Path(tmp) / 'load.db'}"
        if schema:
            make_schema(url, schema)
        ports: list[int] = []
        try:
            for k in range(args.processes):
                cwd = Path(tmp) / f"p{k}"
                cwd.mkdir()
                bot_env = {
                    **env, "KVMBOT_SMTP__HOST": "127.0.0.1", "KVMBOT_SMTP__PORT": "0", "KVMBOT_STORE__URL": url,
                    "KVMBOT_DISCORD__TOKEN": f"load-{k}", "KVMBOT_DISCORD__API_BASE_URL": api,
                    "KVMBOT_DISCORD__GATEWAY_URL": gateway, "KVMBOT_SUBSCRIPTIONS": json.dumps(subs),
                    "KVMBOT_LOG_LEVEL": os.environ.get("BENCH_BOT_LOG_LEVEL", "WARNING"),
                    **({"KVMBOT_STORE__PG_SCHEMA": schema} if schema else {}),
                }
                proc, ready = start([sys.executable, "-m", "bot", "run"], BOT_READY, bot_env, cwd, profile=f"run{k}")
                procs.append(proc)
                ports.append(int(ready.group(2)))
            # Whole series per connection, so each series' mails arrive in order.
            shares: list[list[tuple[str, bytes]]] = [[] for _ in range(args.connections)]
            for i in range(n_series):
                shares[i % args.connections] += [
                    (f"L{i}-{k}@example.com", wire(m)) for k, m in enumerate(mails[i * (1 + n):(i + 1) * (1 + n)])]
            pids = [fake.pid, *(p.pid for p in procs)]
            cpu0 = [cpu_seconds(pid) for pid in pids], time.process_time()
            t0 = time.monotonic()
            ended, acked, waits = asyncio.run(send_all(ports, shares, args.rate))
            elapsed = time.monotonic() - t0
            want = n_series * (1 + n)
            deadline = time.monotonic() + SETTLE
            # A bench polls the fake's control API (a count, cheap for the fake); tests wait on conditions.
            while get(control + "/state")["messages"] < want and time.monotonic() < deadline:
                time.sleep(0.5)
            drained = time.monotonic() - t0
            cpu1 = [cpu_seconds(pid) for pid in pids], time.process_time()
            time.sleep(3.0)  # anything doubled late would show now
            messages = get(control + "/messages")
            requests = get(control + "/requests")
            peaks = [peak_rss_mb(p.pid) for p in procs]
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(120)
            fake.terminate()
            fake.wait(60)
        stored, statuses = asyncio.run(stored_ids(url, schema))
        if schema and not os.environ.get("BENCH_KEEP_SCHEMA"):
            make_schema(url, schema, drop=True)
        elif schema:
            print(f"kept schema {schema}")

    footer_count = Counter(m["embeds"][0]["footer"]["text"] for m in messages if m.get("embeds"))
    duplicated = sum(c - 1 for c in footer_count.values() if c > 1)
    expected = {f"kvm-patchbot · series {s}" for s in range(1, n_series + 1)} | {
        f"kvm-patchbot · series {s} · {k}/{n}" for s in range(1, n_series + 1) for k in range(1, n + 1)}
    missing = sorted(expected - set(footer_count))
    lost_posts = len(missing)
    lost_mails = len(set(acked) - stored)

    # Each message to its POST (per channel both are in creation order), each to its mail by title.
    posts_by_path: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in requests:
        if r["route"] == "POST /channels/{channel_id}/messages" and r["status"] == 200:
            posts_by_path[r["path"]].append(r)
    by_channel: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for m in messages:
        by_channel[m["channel_id"]].append(m)
    mid_of = {}
    for i in range(n_series):
        mid_of[f"Load {i} work"] = f"L{i}-0@example.com"
        for k in range(1, n + 1):
            mid_of[f"Load {i} work part {k}"] = f"L{i}-{k}@example.com"
    latencies: list[float] = []
    slowest: list[tuple[float, str, float]] = []  # (ms, channel, when the mail ended, since the first)
    by_process: dict[str, list[float]] = defaultdict(list)  # SMTP -> post, by the bot token that posted
    first_end = min(ended.values(), default=0.0)
    for ch, msgs in by_channel.items():
        reqs = posts_by_path[f"/api/v10/channels/{ch}/messages"]
        for msg, r in zip(sorted(msgs, key=lambda x: int(x["id"])), reqs, strict=False):
            title = msg["embeds"][0].get("title", "").replace("\\", "") if msg.get("embeds") else ""
            key = next((k for k in (title.split(": ", 2)[-1], title) if k in mid_of), None)
            if key is None:
                key = next((k for k in mid_of if title.endswith(k)), None)
            if key is not None and mid_of[key] in ended:
                latencies.append((r["time"] - ended[mid_of[key]]) * 1000)
                by_process[str(r.get("auth")).removeprefix("Bot load-")].append(latencies[-1])
                slowest.append((latencies[-1], ch, ended[mid_of[key]] - first_end))
    rate_limited = sum(1 for r in requests if r["status"] == 429)

    where = f"PostgreSQL, {args.processes} process(es)" if args.pg else "SQLite, 1 process"
    print(f"{where}: sent {len(mails)} mails ({n_series} series of 1+{n}) in {elapsed:.1f} s = "
          f"{len(mails) / elapsed:.1f} mails/s over {args.connections} connections; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"mails acknowledged {len(acked)}, lost {lost_mails}; posts expected {want}, made {len(footer_count)}, "
          f"lost {lost_posts}, duplicated {duplicated}; all posted {drained:.1f} s after the first mail; 429s {rate_limited}")
    if waits:
        print(f"SMTP end of DATA -> 250: p50 {statistics.median(waits):.1f} ms, p99 {pct(waits, 99):.1f} ms")
    if latencies:
        print(f"SMTP (end of DATA) -> post: p50 {statistics.median(latencies):.0f} ms, p99 {pct(latencies, 99):.0f} ms, "
              f"max {max(latencies):.0f} ms over {len(latencies)} posts")
    if len(by_process) > 1:
        print("SMTP -> post by the process that posted: " + ", ".join(
            f"process {k} {len(v)} posts p50 {statistics.median(v):.0f} ms p99 {pct(v, 99):.0f} ms"
            for k, v in sorted(by_process.items())))
    if slowest:
        # A tail of one channel is a stuck hand-over; of every channel, a backlog.
        worst = sorted(slowest, reverse=True)[:5]
        print("slowest posts: " + ", ".join(f"{ms / 1000:.1f} s in channel {ch} (mail at +{at:.0f} s)" for ms, ch, at in worst))
        # Steady lag or one stall: SMTP -> post by when the mail came, in 10 s spans.
        spans: dict[int, list[float]] = defaultdict(list)
        for ms, _, at in slowest:
            spans[int(at // 10)].append(ms)
        print("SMTP -> post by arrival, p50/max ms: " + ", ".join(
            f"+{10 * k}s {statistics.median(v):.0f}/{max(v):.0f}" for k, v in sorted(spans.items())))
    if missing or set(footer_count) - expected:
        print(f"missing posts: {missing[:10]}; unexpected: {sorted(set(footer_count) - expected)[:10]}")
    print(f"deliveries at the end, by status: {statuses}")
    cpu = [(after - before) * 1000 / len(mails) for before, after in zip(cpu0[0], cpu1[0], strict=True)]
    print(f"CPU per mail, from the first mail to the last post: fake Discord {cpu[0]:.2f} ms, "
          + ", ".join(f"process {i} {ms:.2f} ms" for i, ms in enumerate(cpu[1:]))
          + f", SMTP senders {(cpu1[1] - cpu0[1]) * 1000 / len(mails):.2f} ms; "
          f"all {sum(cpu) + (cpu1[1] - cpu0[1]) * 1000 / len(mails):.2f} ms")
    print("peak resident memory: " + ", ".join(f"process {i} {mb:.0f} MB" for i, mb in enumerate(peaks)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
