"""`kvm-patchbot unparsed`: the mails a store kept but could not understand, and why.

A mail the parser gives up on (or the tracker fails on) is stored raw and
counted, never dropped; this is where an operator finds which ones they are,
and takes one's raw bytes (`--raw`) to a parser bug report or to `kvm-patchbot
parse`. After a parser fix, `kvm-patchbot reparse` re-derives them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.cli.common import StoreTarget, add_store_arguments, chosen_store, open_store
from bot.store import UnparsedMail


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("unparsed", help="list the mails kept but not understood, with why")
    add_store_arguments(p)
    p.add_argument("--config", type=Path, help="configuration file")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per mail")
    p.add_argument("--raw", metavar="MESSAGE_ID", help="write this mail's stored bytes to stdout instead")
    p.set_defaults(func=_run)


def _line(u: UnparsedMail) -> str:
    where = f"{u.source}:{u.source_ref}" if u.source_ref else u.source
    why = "; ".join(u.errors) or "no reason recorded"
    return f"#{u.seq} <{u.message_id}> {u.size} bytes from {where} at {u.received_at:%Y-%m-%d %H:%M} UTC: {why}"


async def _list(target: StoreTarget, jsonl: bool) -> int:
    store = await open_store(target)
    try:
        kept = await store.unparseable()
    finally:
        await store.close()
    for u in kept:
        print(json.dumps(u.model_dump(mode="json"), ensure_ascii=False) if jsonl else _line(u))
    if not jsonl:
        print(f"{len(kept)} mail{'' if len(kept) == 1 else 's'} kept but not understood", file=sys.stderr)
    return 0


async def _raw(target: StoreTarget, message_id: str) -> int:
    store = await open_store(target)
    try:
        raw = await store.raw(message_id.strip().strip("<>"))
    finally:
        await store.close()
    if raw is None:
        print(f"kvm-patchbot unparsed: no mail <{message_id}> in the store", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(raw)
    sys.stdout.buffer.flush()
    return 0


def _run(args: argparse.Namespace) -> int:
    target = chosen_store(args.db, args.pg_schema, args.config)
    if args.raw is not None:
        return asyncio.run(_raw(target, args.raw))
    return asyncio.run(_list(target, args.jsonl))
