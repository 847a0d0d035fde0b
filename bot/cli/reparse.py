"""`kvm-patchbot reparse`: re-derive every series from the stored raw mail (after a parser fix)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.cli.common import StoreTarget, add_store_arguments, chosen_store, open_store
from bot.store import ReparseStats


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reparse", help="re-parse stored mail and rebuild series, lineages and trailers")
    add_store_arguments(p)
    p.add_argument("--config", type=Path, help="configuration file")
    p.set_defaults(func=_run)


async def _reparse(target: StoreTarget) -> ReparseStats:
    store = await open_store(target)
    try:
        return await store.reparse()
    finally:
        await store.close()


def _run(args: argparse.Namespace) -> int:
    target = chosen_store(args.db, args.pg_schema, args.config)
    stats = asyncio.run(_reparse(target))
    print(
        f"reparsed {stats.mails} mails in {stats.seconds:.1f}s: {stats.series} series, "
        f"{stats.lineages} lineages, {stats.unparsed} unparsed"
    )
    if stats.posts_moved or stats.posts_dropped:
        print(f"Discord posts: {stats.posts_moved} moved with their series, {stats.posts_dropped} dropped")
    return 0
