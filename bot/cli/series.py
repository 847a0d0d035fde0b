"""`kvm-patchbot series`: the series postings in a store, or in mail files given as PATHs.

With PATHs (eml, mbox, directories, public-inbox git) the mails are first
ingested into a temporary SQLite database (or into --db when given).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bot.cli.common import StoreTarget, add_store_arguments, chosen_store, open_store
from bot.ingest.record import SourceError
from bot.ingest.sources import iter_paths
from bot.series.models import SeriesView


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("series", help="list series postings (versions, patches, trailers, applied)")
    p.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="mail to ingest first")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per series posting")
    add_store_arguments(p)
    p.add_argument("--config", type=Path, help="configuration file")
    p.add_argument("--lineage", type=int, metavar="ID", help="only the versions of this lineage")
    p.add_argument("--limit", type=int, help="at most this many (newest)")
    p.set_defaults(func=_run)


def series_json(v: SeriesView) -> dict[str, Any]:
    """The JSON object printed per posting: SeriesView plus `received`."""
    out = v.model_dump(mode="json")
    out["received"] = v.received
    return out


def _line(v: SeriesView) -> str:
    ver = f"v{v.version_label or v.version}"
    flags = [f for f, on in (("RFC", v.rfc), ("RESEND", v.resend), ("PULL", v.pull), ("partial", v.partial)) if on]
    state = "complete" if v.complete else f"missing {','.join(map(str, v.missing))}"
    links = []
    if v.supersedes:
        links.append(f"supersedes #{v.supersedes}")
    if v.superseded_by:
        links.append(f"superseded by #{v.superseded_by}")
    if v.duplicate_of:
        links.append(f"duplicate of #{v.duplicate_of}")
    if v.applied_state != "none":
        links.append(f"applied: {v.applied_state}")
    head = f"#{v.series_id} (lineage {v.lineage_id}) {ver} {' '.join(flags)}".rstrip()
    tail = "; ".join([f"{v.received}/{v.total} {state}", *links])
    return f"{head} {v.title} — {v.author.name} <{v.author.email}> [{tail}]"


PAGE = 500  # views built at a time: the whole archive's would take hundreds of MB


async def _print(target: StoreTarget, paths: list[Path], lineage: int | None, limit: int | None, jsonl: bool) -> None:
    store = await open_store(target)
    try:
        if paths:
            stats = await store.ingest_many(iter_paths(paths), source="file")
            print(
                f"ingested {stats.new} mails ({stats.duplicates} duplicates, {stats.unparsed} unparsed)",
                file=sys.stderr,
            )
        if limit is not None:
            newest = await store.list_series(lineage_id=lineage, limit=limit, newest_first=True)
            _emit(newest[::-1], jsonl)
            return
        offset = 0
        while page := await store.list_series(lineage_id=lineage, limit=PAGE, offset=offset):
            _emit(page, jsonl)
            offset += len(page)
    finally:
        await store.close()


def _emit(views: list[SeriesView], jsonl: bool) -> None:
    for v in views:
        print(json.dumps(series_json(v), ensure_ascii=False) if jsonl else _line(v))


def _run(args: argparse.Namespace) -> int:
    try:
        with tempfile.TemporaryDirectory(prefix="kvm-patchbot-series-") as tmp:
            if args.paths and not args.db:
                target = StoreTarget(f"sqlite+aiosqlite:///{Path(tmp) / 'series.db'}")
            else:  # PATHs may go into a new store at --db
                target = chosen_store(args.db, args.pg_schema, args.config, must_exist=not args.paths)
            asyncio.run(_print(target, list(args.paths), args.lineage, args.limit, args.jsonl))
    except SourceError as exc:
        print(f"kvm-patchbot series: {exc}", file=sys.stderr)
        return 2
    return 0
