"""`kvm-patchbot reparse`: re-derive every series from the stored raw mail (after a parser fix)."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.cli.common import existing_store, open_store, store_url
from bot.config import load_settings
from bot.store import ReparseStats


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reparse", help="re-parse stored mail and rebuild series, lineages and trailers")
    p.add_argument("--db", type=store_url, metavar="URL", help="store URL (default: the configured store)")
    p.add_argument("--config", type=Path, help="configuration file")
    p.set_defaults(func=_run)


async def _reparse(url: str) -> ReparseStats:
    store = await open_store(url)
    try:
        return await store.reparse()
    finally:
        await store.close()


def _run(args: argparse.Namespace) -> int:
    url = existing_store(args.db or load_settings(args.config).store.url)
    stats = asyncio.run(_reparse(url))
    print(
        f"reparsed {stats.mails} mails in {stats.seconds:.1f}s: {stats.series} series, "
        f"{stats.lineages} lineages, {stats.unparsed} unparsed"
    )
    if stats.posts_moved or stats.posts_dropped:
        print(f"Discord posts: {stats.posts_moved} moved with their series, {stats.posts_dropped} dropped")
    return 0
