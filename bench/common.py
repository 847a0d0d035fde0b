"""What the benchmarks share: starting the service and the fake Discord as
processes, a paced asyncio SMTP client, CPU and memory of a process, percentiles.

BENCH_PROFILE=DIR runs each process started through `start(..., profile=NAME)`
under cProfile, the profile written to DIR/NAME.prof when it is stopped
(SIGTERM): `python -m pstats DIR/NAME.prof`, then `sort tottime`, `stats 30`.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FAKE_READY = re.compile(r"api=(\S+) gateway=(\S+) control=(\S+)")
BOT_READY = re.compile(r"ready, SMTP on ([\d.]+):(\d+)")


# ---------------------------------------------------------------- processes


def start(
    cmd: list[str], pattern: re.Pattern[str], env: dict[str, str], cwd: Path, *, profile: str | None = None
) -> tuple[subprocess.Popen[str], re.Match[str]]:
    """Start `cmd` (a `python -m MODULE ...` line) and wait for its ready line;
    stderr goes to BENCH_LOG (default nowhere)."""
    if profile and (where := os.environ.get("BENCH_PROFILE")) and cmd[1:2] == ["-m"]:
        Path(where).mkdir(parents=True, exist_ok=True)
        cmd = [cmd[0], str(ROOT / "bench" / "profiled.py"), str(Path(where).resolve() / f"{profile}.prof"), *cmd[2:]]
    log = open(os.environ.get("BENCH_LOG", os.devnull), "a")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=cwd)
    assert proc.stdout is not None
    for line in proc.stdout:
        if m := pattern.search(line):
            return proc, m
    raise SystemExit(f"{cmd} exited before it was ready")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def get(url: str, timeout: float = 60) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.load(resp)


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


# ---------------------------------------------------------------- SMTP client


def wire(raw: bytes) -> bytes:
    """A mail as DATA carries it: CRLF lines, dot-stuffed, ending in CRLF.CRLF."""
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    body = b"\r\n".join(b"." + ln if ln.startswith(b".") else ln for ln in lines)
    return body + b"\r\n.\r\n"


async def reply(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        lines.append(line)
        if line[3:4] != b"-":
            return int(line[:3]), b"".join(lines)


async def expect(reader: asyncio.StreamReader, code: int) -> None:
    got, text = await reply(reader)
    if got != code:
        raise RuntimeError(f"expected {code}, got {text!r}")


async def send_mails(
    port: int,
    mails: Sequence[bytes],
    *,
    rate: float | None = None,
    ended: Callable[[int, float], None] | None = None,
    answered: Callable[[int, int, float], None] | None = None,
) -> None:
    """One connection sending `mails` (already `wire`d) in order; with `rate`,
    mail i starts at t0 + i/rate (no earlier). `ended(i, time.time())` when
    the end of DATA is written, `answered(i, code, seconds since then)` at
    the reply."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await expect(reader, 220)
    writer.write(b"EHLO bench.test\r\n")
    await expect(reader, 250)
    t0 = time.monotonic()
    for i, data in enumerate(mails):
        if rate is not None and (delay := t0 + i / rate - time.monotonic()) > 0:
            await asyncio.sleep(delay)  # pacing the load, not synchronisation
        writer.write(b"MAIL FROM:<kvm+bounces@vger.kernel.org>\r\n")
        await expect(reader, 250)
        writer.write(b"RCPT TO:<kvm@localhost>\r\n")
        await expect(reader, 250)
        writer.write(b"DATA\r\n")
        await expect(reader, 354)
        writer.write(data)
        await writer.drain()
        sent = time.perf_counter()
        if ended is not None:
            ended(i, time.time())
        code, _ = await reply(reader)
        if answered is not None:
            answered(i, code, time.perf_counter() - sent)
    writer.write(b"QUIT\r\n")
    await reply(reader)
    writer.close()
    await writer.wait_closed()
