"""Memory and start-up of `kvm-patchbot run` as the archive grows: 1x and 5x kvmarm.

Builds two SQLite stores, as `kvm-patchbot ingest` would (a quiet back-fill,
already walked past by delivery): the kvmarm public-inbox archive (21,367 mails), and
the same archive five times over, each copy with renamed Message-IDs (and
In-Reply-To, References, b4 change-ids) and its Dates moved on by the
archive's span times the copy number: five times the history at the same
traffic rate, as a list that has run five times as long. Then starts
`kvm-patchbot run` (SMTP sink, preview delivery) on a copy of each store and
prints, for the tracker window of the settings (`--window-days`, default
180) and for no window (every series in memory, as before the window):

  startup_s   from the process start to its "ready" line
  rss_mb      resident memory once ready (VmRSS)
  burst_rss   resident memory after a burst of mails over SMTP (the last
              `--burst` mails of the archive, renamed, dated after the newest)
  peak_mb     the process's peak resident memory (VmHWM)
  series      series in the store

Each is the smallest of `--repeat` starts (the machine may be shared).
Figures are printed, never asserted; the target is flat within 20% from 1x to 5x.

Usage: python bench/footprint.py [--copies 5] [--burst 300] [--window-days 180] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT.parent / "shared" / "corpus" / "kvmarm-epoch0.bundle"
READY = re.compile(r"ready, SMTP on ([\d.]+):(\d+)")
_ID_HEADER = re.compile(rb"^(Message-I[Dd]|In-Reply-To|References):[^\n]*(?:\n[ \t][^\n]*)*", re.M | re.I)
_DATE = re.compile(rb"^Date:[ \t]*([^\n]*)", re.M | re.I)
_CHANGE_ID = re.compile(rb"^(change-id:[ \t]*)", re.M | re.I)


def _archive(tmp: Path) -> Path:
    dest = tmp / "kvmarm.git"
    subprocess.run(["git", "clone", "--quiet", "--bare", str(BUNDLE), str(dest)], check=True)
    return dest


def _raws(archive: Path) -> list[bytes]:
    sys.path.insert(0, str(ROOT))
    from bot.ingest.sources import iter_path

    return [r.data for r in iter_path(archive)]


def copy_of(raw: bytes, prefix: bytes, shift: timedelta) -> bytes:
    """The mail as copy `prefix`: its ids renamed, its Date moved on by `shift`."""
    cut = raw.find(b"\n\n")
    cut = len(raw) if cut < 0 else cut
    head, body = raw[:cut], raw[cut:]
    head = _ID_HEADER.sub(lambda m: m.group(0).replace(b"<", b"<" + prefix), head)
    if shift:
        head = _DATE.sub(lambda m: b"Date: " + _shifted(m.group(1), shift), head, count=1)
    body = _CHANGE_ID.sub(lambda m: m.group(1) + prefix, body)
    return head + body


def _shifted(value: bytes, shift: timedelta) -> bytes:
    try:
        when = email.utils.parsedate_to_datetime(value.decode("ascii", "replace").strip())
    except (TypeError, ValueError):
        return value
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return email.utils.format_datetime(when + shift).encode()


def _dates(raws: list[bytes]) -> tuple[datetime, datetime]:
    found = []
    for raw in raws:
        m = _DATE.search(raw[: max(raw.find(b"\n\n"), 0)])
        if m:
            try:
                d = email.utils.parsedate_to_datetime(m.group(1).decode("ascii", "replace").strip())
            except (TypeError, ValueError):
                continue
            found.append(d if d.tzinfo else d.replace(tzinfo=timezone.utc))
    found.sort()
    # the middle 99.8%: a few mails carry absurd Dates
    return found[len(found) // 1000], found[-len(found) // 1000 - 1]


def copies(raws: list[bytes], n: int, span: timedelta) -> Iterator[bytes]:
    for k in range(n):
        for raw in raws:
            yield raw if k == 0 else copy_of(raw, f"c{k}.".encode(), span * k)


def build(db: Path, mails: Iterator[bytes]) -> float:
    sys.path.insert(0, str(ROOT))
    from bot.store import Store
    from bot.store.delivery import ROUTE_CURSOR, backfill_source

    async def run() -> float:
        store = await Store.open(f"sqlite+aiosqlite:///{db}")
        try:
            start = time.perf_counter()
            # As `kvm-patchbot ingest` does: a quiet back-fill...
            await store.ingest_many(mails, source=backfill_source("archive"))
            secs = time.perf_counter() - start
            # ...which a first `run` walks past once (announcing nothing): done
            # here, so that each measured start is a restart of a service in use.
            await store.set_cursor(ROUTE_CURSOR, str(await store.last_event_id()))
            return secs
        finally:
            await store.close()

    return asyncio.run(run())


def _status(pid: int) -> dict[str, float]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass


def measure(db: Path, burst: list[bytes], env: dict[str, str], tmp: Path) -> dict[str, float]:
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], cwd=tmp, env={**env, "KVMBOT_STORE__URL": f"sqlite+aiosqlite:///{db}"},
        stdout=subprocess.PIPE, stderr=open(tmp / "run.log", "a"), text=True,
    )
    try:
        assert proc.stdout is not None
        port = None
        for line in proc.stdout:
            if m := READY.search(line):
                port = int(m.group(2))
                break
        if port is None:
            raise SystemExit(f"run exited before it was ready; see {tmp / 'run.log'}")
        startup = time.perf_counter() - start
        ready = _status(proc.pid)
        threading.Thread(target=_drain, args=(proc.stdout,), daemon=True).start()
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as smtp:
            for raw in burst:
                smtp.sendmail("bench@localhost", ["kvm@localhost"], raw)
        after = _status(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"startup_s": startup, "rss_mb": ready["VmRSS"], "burst_rss_mb": after["VmRSS"], "peak_mb": after["VmHWM"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--copies", type=int, default=5)
    ap.add_argument("--burst", type=int, default=300, help="mails sent over SMTP after start-up")
    ap.add_argument("--window-days", type=float, default=180.0)
    ap.add_argument("--keep", type=Path, help="build the stores here (reused when present)")
    ap.add_argument("--repeat", type=int, default=3, help="starts per store; the smallest figures are printed")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-footprint-"))
    where = args.keep or tmp
    where.mkdir(parents=True, exist_ok=True)
    try:
        raws = _raws(_archive(tmp))
        first, last = _dates(raws)
        span = last - first + timedelta(days=1)
        print(f"kvmarm: {len(raws)} mails, {first:%Y-%m-%d} .. {last:%Y-%m-%d}; python {sys.version.split()[0]}")
        dbs = {}
        for n in (1, args.copies):
            db = where / f"kvmarm-x{n}.db"
            if not db.exists():
                secs = build(db, copies(raws, n, span))
                print(f"built {db.name}: {n * len(raws)} mails in {secs:.0f} s")
            dbs[n] = db
        env = {k: v for k, v in os.environ.items() if not k.startswith("KVMBOT_")}
        env.update(PYTHONPATH=str(ROOT), KVMBOT_SMTP__PORT="0",
                   KVMBOT_DISCORD__PREVIEW_FILE=str(tmp / "preview.jsonl"))
        for label, days in ((f"window {args.window_days:g} days", args.window_days), ("no window", 36500.0)):
            rows = {}
            for n, db in dbs.items():
                burst = [copy_of(raw, b"burst.", span * args.copies) for raw in raws[-args.burst:]]
                runs = []
                for _ in range(args.repeat):  # the best of a few: the machine is shared
                    work = tmp / f"run-x{n}.db"
                    shutil.copyfile(db, work)
                    runs.append(measure(work, burst, {**env, "KVMBOT_TRACKER__WINDOW_DAYS": str(days)}, tmp))
                    work.unlink()
                rows[n] = r = {key: min(run[key] for run in runs) for key in runs[0]}
                print(f"{label:18s} {n}x  start-up {r['startup_s']:5.2f} s  RSS ready {r['rss_mb']:6.1f} MB  "
                      f"after {args.burst} mails {r['burst_rss_mb']:6.1f} MB  peak {r['peak_mb']:6.1f} MB")
            a, b = rows[1], rows[args.copies]
            print(f"{label:18s} {args.copies}x/1x: start-up {b['startup_s'] / a['startup_s']:.2f}  "
                  f"RSS ready {b['rss_mb'] / a['rss_mb']:.2f}  after burst {b['burst_rss_mb'] / a['burst_rss_mb']:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
