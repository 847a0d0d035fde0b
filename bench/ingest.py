"""Bulk ingest benchmark: the kvmarm public-inbox archive into a fresh SQLite store.

Prints, each phase measured in its own process (so peak RSS is its own):

  parse   bot.mail.parse_mail over every mail, nothing else
  ingest  Store.ingest_many end to end (parse + track + write), fresh SQLite file;
          parsing runs in a worker process; children_rss_mb is the largest
          child's peak RSS (that worker, or the git readers)
  store   the same with the parse results computed beforehand: what tracking
          and writing cost on their own (its peak RSS includes that cache of
          every parsed mail, so only the ingest phase's RSS is the real one)
  b4      b4.LoreMailbox.add_message over the same mails, as a reference (b4
          runs offline here; a LoreMailbox is built for one thread, so on a
          whole archive it keys "series" by revision number only)

The parts an import cannot do without, each alone, in CPU seconds: with the
parse phase they bound the ingest rate (their sum over the cores, if nothing
else cost anything):

  read    reading the archive (git rev-list + cat-file, and our reader of them)
  pack    compressing every raw mail as the store keeps it (bot.store.rawcodec)
  floor   the database alone: the rows an ingest wrote, read back and written
          again into a fresh file with the same schema and pragmas, a batch of
          about 1,000 mails' rows a transaction, by sqlite3's executemany with
          no Python per row
  track   the tracker alone: bot.series.decide and MemoryIndex.apply for every
          mail in order, on mail parsed beforehand (no rows, no database)

When read, parse, pack, floor and track all ran, a last line adds up their
CPU seconds: the work an import of this archive cannot skip, and the rate it
allows on this machine's cores if every other line of code cost nothing and
no core ever waited (a ceiling, not a forecast).

Usage: python bench/ingest.py [--archive DIR_OR_BUNDLE] [--phases parse,ingest,store,b4,read,pack,floor,track] [--compiled]
The archive defaults to ../shared/corpus/kvmarm-epoch0.bundle (cloned to a
temporary directory). Figures are printed, never asserted. Each line says
which parser ran: the source, or with --compiled a mypyc-compiled copy of the
tree (what a wheel install deploys; built into a temporary directory, needs
mypy from the test extra).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT.parent / "shared" / "corpus" / "kvmarm-epoch0.bundle"


def _raws(archive: Path) -> list[tuple[bytes, str]]:
    from bot.ingest.sources import iter_path

    return [(r.data, r.ref) for r in iter_path(archive)]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def phase_parse(archive: Path) -> dict[str, object]:
    from bot.mail import parse_mail

    raws = _raws(archive)
    start, cpu = time.perf_counter(), time.process_time()
    for raw, _ in raws:
        parse_mail(raw)
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"mails": len(raws), "seconds": secs, "mails_per_s": len(raws) / secs, "cpu_s": round(cpu, 2)}


def phase_track(archive: Path) -> dict[str, object]:
    from datetime import datetime, timezone

    from bot.mail import parse_mail
    from bot.mail.models import Kind
    from bot.series import MemoryIndex, decide

    mails = [m for m in (parse_mail(raw) for raw, _ in _raws(archive)) if m.kind is not Kind.UNPARSEABLE]
    index = MemoryIndex()
    now = datetime.now(timezone.utc)  # what the store passes for a missing Date
    start, cpu = time.perf_counter(), time.process_time()
    for mail in mails:
        index.apply(decide(mail, index, received_at=now))
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"mails": len(mails), "seconds": secs, "mails_per_s": len(mails) / secs, "cpu_s": round(cpu, 2)}


def phase_ingest(archive: Path, *, preparsed: bool) -> dict[str, object]:
    from sqlalchemy import text

    from bot.ingest.sources import iter_path
    from bot.mail import parse_mail
    from bot.mail.models import ParsedMail
    from bot.store import Store

    parser: Callable[[bytes], ParsedMail] = parse_mail
    records: object
    if preparsed:
        raws = _raws(archive)
        cache = {raw: parse_mail(raw) for raw, _ in raws}
        parser = cache.__getitem__
        records = raws
    else:
        records = iter_path(archive)  # streamed: reading git is part of the cost

    async def run(db: Path) -> dict[str, object]:
        store = await Store.open(f"sqlite+aiosqlite:///{db}", parser=parser)
        try:
            start = time.perf_counter()
            stats = await store.ingest_many(records, source="publicinbox")  # type: ignore[arg-type]
            secs = time.perf_counter() - start
            peak = _peak_mb()  # before the checks below load anything
            series = await store.count("series")
            async with store.engine.connect() as conn:
                lineages = await conn.scalar(text("SELECT count(DISTINCT lineage_id) FROM series"))
        finally:
            await store.close()  # also ends the parse worker, so RUSAGE_CHILDREN counts it
        return {
            "mails": stats.read,
            "new": stats.new,
            "duplicates": stats.duplicates,
            "unparsed": stats.unparsed,
            "series": series,
            "lineages": lineages,
            "events": stats.events,
            "seconds": secs,
            "mails_per_s": stats.read / secs,
            "db_mb": db.stat().st_size / 2**20,
            "peak_rss_mb": peak,
            # the largest child process: the parse worker (bot.store.parsepool) or git
            "children_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
            # CPU seconds of this process (start-up and checks included) and of its
            # children (parse workers, git): on 2 cores, what bounds the rate
            "cpu_s": round(_cpu(resource.RUSAGE_SELF), 2),
            "children_cpu_s": round(_cpu(resource.RUSAGE_CHILDREN), 2),
        }

    with tempfile.TemporaryDirectory() as tmp:
        return asyncio.run(run(Path(tmp) / "bench.db"))


def phase_read(archive: Path) -> dict[str, object]:
    from bot.ingest.sources import iter_path

    startup = _cpu(resource.RUSAGE_SELF)
    start = time.perf_counter()
    count = size = 0
    for raw in iter_path(archive):
        count += 1
        size += len(raw.data)
    secs = time.perf_counter() - start
    return {
        "mails": count, "mb": size / 2**20, "seconds": secs, "mails_per_s": count / secs,
        "cpu_s": round(_cpu(resource.RUSAGE_SELF), 2),  # start-up included
        "startup_cpu_s": round(startup, 2),  # the interpreter's and the imports'
        "children_cpu_s": round(_cpu(resource.RUSAGE_CHILDREN), 2),  # git
    }


def phase_pack(archive: Path) -> dict[str, object]:
    from bot.store.rawcodec import pack_all

    raws = [raw for raw, _ in _raws(archive)]
    start, cpu = time.perf_counter(), time.process_time()
    packed = sum(len(b) for i in range(0, len(raws), 1000) for b in pack_all(raws[i : i + 1000]))
    secs, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "mails": len(raws), "seconds": secs, "mails_per_s": len(raws) / secs,
        "cpu_us_per_mail": cpu / len(raws) * 1e6, "ratio": packed / sum(map(len, raws)),
    }


# Parents first, as the store writes them.
_TABLES = ("lineages", "series", "mails", "patches", "series_refs", "trailers",
           "fixes", "stable_requests", "applied", "events")


def phase_floor(archive: Path) -> dict[str, object]:
    import sqlite3

    from bot.ingest.sources import iter_path
    from bot.store import Store

    async def ingest(db: Path) -> int:
        store = await Store.open(f"sqlite+aiosqlite:///{db}")
        try:
            return (await store.ingest_many(iter_path(archive), source="publicinbox")).read
        finally:
            await store.close()

    with tempfile.TemporaryDirectory() as tmp:
        made = Path(tmp) / "made.db"
        mails = asyncio.run(ingest(made))
        src = sqlite3.connect(made)
        # Tables, then indexes, then triggers (the FTS ones name their tables); an
        # FTS5 table's shadow tables are made by the virtual table itself.
        virtual = [name for (name,) in src.execute(
            "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")]
        schema = [sql for (name, sql) in src.execute(
            "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            " ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END"
        ) if not any(name.startswith(f"{v}_") for v in virtual)]
        rows = {name: src.execute(f"SELECT * FROM {name} ORDER BY rowid").fetchall() for name in _TABLES}
        src.close()
        db = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=FULL"):  # as bot.store.engine
            db.execute(f"PRAGMA {pragma}")
        for sql in schema:
            db.execute(sql)
        batches = max(1, round(mails / 1000))
        start, cpu = time.perf_counter(), time.process_time()
        for name in _TABLES:  # table by table: a series' rows are in before the rows naming it
            table = rows[name]
            if not table:
                continue
            marks = ",".join("?" * len(table[0]))
            for b in range(batches):
                db.execute("BEGIN")
                db.executemany(f"INSERT INTO {name} VALUES ({marks})",
                               table[b * len(table) // batches : (b + 1) * len(table) // batches])
                db.execute("COMMIT")
        secs, cpu = time.perf_counter() - start, time.process_time() - cpu
        db.close()
    return {
        "mails": mails, "rows": sum(map(len, rows.values())), "seconds": secs,
        "mails_per_s": mails / secs, "cpu_s": round(cpu, 2),
    }


def phase_b4(archive: Path) -> dict[str, object]:
    try:
        import email

        import b4
    except ImportError:
        return {"error": "b4 is not installed (pip install -e '.[bench]')"}
    raws = _raws(archive)
    start = time.perf_counter()
    mbx = b4.LoreMailbox()
    failed = 0
    for raw, _ in raws:
        try:
            mbx.add_message(email.message_from_bytes(raw, policy=b4.emlpolicy))
        except Exception:  # b4 raises on some real mail; count, do not hide
            failed += 1
    secs = time.perf_counter() - start
    return {
        "mails": len(raws),
        "failed": failed,
        "seconds": secs,
        "mails_per_s": len(raws) / secs,
        # LoreMailbox is built for one thread: it keys series by revision only
        "series_by_revision": len(mbx.series),
        "followups": len(mbx.followups),
        "unknowns": len(mbx.unknowns),
    }


PHASES = {
    "parse": phase_parse,
    "ingest": lambda a: phase_ingest(a, preparsed=False),
    "store": lambda a: phase_ingest(a, preparsed=True),
    "b4": phase_b4,
    "read": phase_read,
    "pack": phase_pack,
    "floor": phase_floor,
    "track": phase_track,
}

# What each of the unavoidable phases spends, in CPU seconds (read: git's and ours).
_UNAVOIDABLE = {
    "read": lambda r: r["cpu_s"] + r["children_cpu_s"] - r["startup_cpu_s"],
    "parse": lambda r: r["cpu_s"],
    "pack": lambda r: r["cpu_us_per_mail"] * r["mails"] / 1e6,
    "floor": lambda r: r["cpu_s"],
    "track": lambda r: r["cpu_s"],
}


def ceiling(results: dict[str, dict[str, object]], cores: int) -> str | None:
    """The line adding up the unavoidable phases' CPU, or None if one did not run."""
    if not all(name in results for name in _UNAVOIDABLE):
        return None
    parts = {name: float(cost(results[name])) for name, cost in _UNAVOIDABLE.items()}  # type: ignore[arg-type]
    total = sum(parts.values())
    mails = int(results["read"]["mails"])  # type: ignore[call-overload]
    said = " + ".join(f"{name} {secs:.2f}" for name, secs in parts.items())
    return (f"ceiling  unavoidable CPU {said} = {total:.2f} s; over {cores} cores at most "
            f"{mails / (total / cores):,.0f} mails/s")


def _archive(arg: str | None, tmp: Path) -> Path:
    path = Path(arg) if arg else BUNDLE
    if path.is_file() and path.suffix == ".bundle":
        dest = tmp / "archive.git"
        subprocess.run(["git", "clone", "--quiet", "--bare", str(path), str(dest)], check=True)
        return dest
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archive", help="public-inbox git dir or .bundle (default: the kvmarm bundle)")
    ap.add_argument("--phases", default="parse,ingest,store,b4")
    ap.add_argument("--compiled", action="store_true", help="run the phases with the mypyc-compiled parser")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one phase, print JSON
    args = ap.parse_args()
    if args.one:
        result = PHASES[args.one](Path(args.archive))
        result.setdefault("peak_rss_mb", _peak_mb())
        parse_module = sys.modules.get("bot.mail.parse")  # not loaded by the b4 phase
        if parse_module is not None:
            result["parser"] = "compiled" if str(parse_module.__file__).endswith(".so") else "pure"
        print(json.dumps(result))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        archive = _archive(args.archive, Path(tmp))
        print(f"archive: {archive}  cpus: {os.cpu_count()}  python {sys.version.split()[0]}")
        env = dict(os.environ)
        if args.compiled:
            sys.path.insert(0, str(ROOT))  # build_support (a folder, not an installed package)
            from build_support.kvmbot_build import compiled_copy

            # the phases (and the parse workers they spawn) import bot from the compiled copy
            env["PYTHONPATH"] = str(compiled_copy(Path(tmp) / "compiled"))
        results: dict[str, dict[str, object]] = {}
        for name in args.phases.split(","):
            proc = subprocess.run(
                [sys.executable, __file__, "--one", name, "--archive", str(archive)],
                capture_output=True, text=True, cwd=ROOT, env=env,
            )
            if proc.returncode != 0:
                print(f"{name:7s} FAILED: {proc.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if "error" in r:
                print(f"{name:7s} not measured: {r['error']}")
                continue
            extra = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in r.items()
                     if k not in ("mails_per_s", "peak_rss_mb", "seconds")}
            print(
                f"{name:7s} {r['mails_per_s']:9.0f} mails/s  {r['seconds']:7.1f} s  "
                f"peak RSS {r['peak_rss_mb']:6.0f} MB  {extra}"
            )
            results[name] = r
        line = ceiling(results, os.cpu_count() or 1)
        if line is not None:
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
