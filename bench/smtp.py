"""SMTP sink benchmark: N concurrent clients over loopback into the real sink and
a fresh SQLite store, the server in its own process.

Each client keeps one connection and sends its share of the mails one after
the other (MAIL, RCPT, DATA); latency is measured from the end of DATA
("\\r\\n.\\r\\n" written) to the server's 250, i.e. the store's commit. Payloads
are real list mails (the kvm-x86-threads mboxes, or the kvmarm archive with
--kvmarm) whose Message-ID/In-Reply-To/References get a per-round prefix, so
every mail is new to the store and threads stay threads.

Usage: python bench/smtp.py [--clients 16] [--mails 4000] [--kvmarm] [--full | --null] [--start-from DB]
  --full  run `kvm-patchbot run` (with preview delivery) instead of sink + store only
  --null  the sink alone, delivering nowhere: what SMTP itself costs
  --start-from DB  begin with a copy of a filled store (e.g. after `kvm-patchbot ingest`
          of the kvmarm archive): a big tracker index, as in production
Figures are printed, never asserted. Targets: >= 500 mails/s, p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import cpu_seconds, expect, pct, reply, wire as on_the_wire  # noqa: E402  (the benches' one SMTP client)

CORPUS = ROOT.parent / "shared" / "corpus"
READY = re.compile(rb"ready, SMTP on ([\d.]+):(\d+)")
_ID_HEADER = re.compile(rb"^(Message-I[Dd]|In-Reply-To|References):[^\n]*(?:\n[ \t][^\n]*)*", re.M | re.I)
_HEADER_END = re.compile(rb"\n\n")
# Every client connects from loopback: the per-client cap must not turn --clients away.
_UNCAPPED = 10_000


# ---------------------------------------------------------------- server side


async def _serve(db: Path, null: bool) -> None:
    """The sink + store only (no delivery), printing the ready line. `null`:
    the sink alone, delivering nowhere (what SMTP itself costs)."""
    import signal

    sys.path.insert(0, str(ROOT))
    from bot.app import App
    from bot.config import Settings, SmtpSettings, StoreSettings
    from bot.ingest.smtp import MailMeta, SmtpSink

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    if null:
        async def nowhere(raw: bytes, meta: MailMeta) -> None:
            return None

        sink = SmtpSink(SmtpSettings(port=0, max_connections=_UNCAPPED, max_connections_per_client=_UNCAPPED), nowhere)
        await sink.start()
        print("kvm-patchbot: ready, SMTP on {}:{}".format(*sink.address), flush=True)
        await stop.wait()
        await sink.stop()
        return
    settings = Settings(smtp=SmtpSettings(port=0, max_connections=_UNCAPPED, max_connections_per_client=_UNCAPPED), store=StoreSettings(url=f"sqlite+aiosqlite:///{db}"))
    app = App(settings, workers=[])
    await app.start()
    assert app.sink is not None
    host, port = app.sink.address
    print(f"kvm-patchbot: ready, SMTP on {host}:{port}", flush=True)
    await stop.wait()
    await app.stop()


# ---------------------------------------------------------------- payloads


def _payloads(kvmarm: bool, limit: int) -> list[bytes]:
    sys.path.insert(0, str(ROOT))
    from bot.ingest.sources import iter_path

    if kvmarm:
        tmp = Path(tempfile.mkdtemp(prefix="bench-smtp-"))
        subprocess.run(["git", "clone", "-q", "--bare", str(CORPUS / "kvmarm-epoch0.bundle"), str(tmp / "0.git")], check=True)
        src = iter_path(tmp / "0.git")
    else:
        src = iter_path(CORPUS / "kvm-x86-threads")
    out = []
    for rec in src:
        out.append(rec.data)
        if len(out) >= limit:
            break
    return out


def _renamed(raw: bytes, prefix: bytes) -> bytes:
    """Every message id in the id headers gets `prefix`: a new, consistent thread."""
    end = _HEADER_END.search(raw)
    cut = end.start() if end else len(raw)
    head = _ID_HEADER.sub(lambda m: m.group(0).replace(b"<", b"<" + prefix), raw[:cut])
    return head + raw[cut:]


# ---------------------------------------------------------------- client side


async def _client(port: int, mails: list[bytes], latencies: list[float], codes: dict[int, int]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await expect(reader, 220)
    writer.write(b"EHLO bench.test\r\n")
    await expect(reader, 250)
    for data in mails:
        writer.write(b"MAIL FROM:<kvm+bounces@vger.kernel.org>\r\n")
        await expect(reader, 250)
        writer.write(b"RCPT TO:<kvm@localhost>\r\n")
        await expect(reader, 250)
        writer.write(b"DATA\r\n")
        await expect(reader, 354)
        writer.write(data)
        await writer.drain()
        t0 = time.perf_counter()
        code, _ = await reply(reader)
        latencies.append(time.perf_counter() - t0)
        codes[code] = codes.get(code, 0) + 1
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()
    await writer.wait_closed()


async def _drive(port: int, wire: list[bytes], clients: int) -> tuple[list[float], dict[int, int], float]:
    shares = [wire[i::clients] for i in range(clients)]
    latencies: list[float] = []
    codes: dict[int, int] = {}
    start = time.perf_counter()
    await asyncio.gather(*(_client(port, s, latencies, codes) for s in shares if s))
    return latencies, codes, time.perf_counter() - start


def _drain(stream: IO[bytes]) -> None:
    for _ in stream:
        pass


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--mails", type=int, default=4000, help="mails to send in all")
    ap.add_argument("--kvmarm", action="store_true", help="payloads from the kvmarm archive")
    ap.add_argument("--full", action="store_true", help="`kvm-patchbot run` with preview delivery")
    ap.add_argument("--null", action="store_true", help="the sink alone, storing nothing")
    ap.add_argument("--start-from", type=Path, metavar="DB", help="a copy of this SQLite store instead of an empty one")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve, args.null))
        return 0

    base = _payloads(args.kvmarm, args.mails)
    wire: list[bytes] = []
    round_no = 0
    while len(wire) < args.mails:
        prefix = f"bench{round_no}.".encode()
        wire.extend(on_the_wire(_renamed(raw, prefix)) for raw in base[: args.mails - len(wire)])
        round_no += 1
    mean_kib = statistics.mean(len(w) for w in wire) / 1024

    tmp = Path(tempfile.mkdtemp(prefix="bench-smtp-"))
    db = tmp / "bench.db"
    if args.start_from:
        shutil.copyfile(args.start_from, db)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KVMBOT_")}
    env["PYTHONPATH"] = str(ROOT)
    if args.full:
        env.update(KVMBOT_SMTP__PORT="0", KVMBOT_STORE__URL=f"sqlite+aiosqlite:///{db}",
                   KVMBOT_SMTP__MAX_CONNECTIONS="10000", KVMBOT_SMTP__MAX_CONNECTIONS_PER_CLIENT="10000",
                   KVMBOT_DISCORD__PREVIEW_FILE=str(tmp / "preview.jsonl"))
        cmd = [sys.executable, "-m", "bot", "run"]
    else:
        cmd = [sys.executable, __file__, "--serve", str(db)] + (["--null"] if args.null else [])
        if os.environ.get("BENCH_PROFILE"):  # where the server's time goes
            cmd[1:1] = ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
    server = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=open(tmp / "server.log", "wb"))
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        ready = READY.search(line)
        if not ready:
            print(f"server did not start: {line!r}; see {tmp / 'server.log'}", file=sys.stderr)
            return 1
        port = int(ready.group(2))
        # Preview delivery (--full) prints cards to stdout: keep the pipe drained.
        threading.Thread(target=_drain, args=(server.stdout,), daemon=True).start()
        cpu0 = cpu_seconds(server.pid)
        latencies, codes, secs = asyncio.run(_drive(port, wire, args.clients))
        server_cpu = cpu_seconds(server.pid) - cpu0
    finally:
        server.terminate()
        server.wait(60)
        if server.stdout is not None:
            server.stdout.close()
    stored = 0
    if not args.null:
        with sqlite3.connect(db) as con:
            stored = con.execute("SELECT count(*) FROM mails WHERE source = 'smtp'").fetchone()[0]

    ms = [x * 1000 for x in latencies]
    what = "sink alone (no store)" if args.null else "sink + SQLite store"
    print(f"server      {'kvm-patchbot run (sink + store + preview delivery)' if args.full else what}")
    print(f"payloads    {len(wire)} mails ({len(base)} distinct real mails, mean {mean_kib:.1f} KiB), {args.clients} clients")
    print(f"replies     {dict(sorted(codes.items()))}; rows stored {stored}")
    print(f"throughput  {len(wire) / secs:,.0f} mails/s ({secs:.2f} s)")
    print(f"server CPU  {server_cpu:.2f} s = {server_cpu / secs:.0%} of one core, {server_cpu * 1000 / len(wire):.2f} ms per mail")
    print(f"latency     end of DATA -> 250: p50 {pct(ms, 50):.1f} ms, p99 {pct(ms, 99):.1f} ms, max {max(ms):.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
