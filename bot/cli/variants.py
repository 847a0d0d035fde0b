"""`kvm-patchbot variants`: mails that reused a stored Message-ID with another body.

The first body stays the mail (its series, its cards); each other body is kept
here rather than dropped, so an operator can see what differed (`--raw ID`
writes one's bytes; `kvm-patchbot unparsed --raw MSGID` the first one's).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.cli.common import StoreTarget, add_store_arguments, chosen_store, open_store
from bot.store import VariantMail


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("variants", help="list the mails that reused a known Message-ID with another body")
    add_store_arguments(p)
    p.add_argument("--config", type=Path, help="configuration file")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per variant")
    p.add_argument("--raw", metavar="ID", type=int, help="write this variant's bytes to stdout instead")
    p.set_defaults(func=_run)


def _line(v: VariantMail) -> str:
    where = f"{v.source}:{v.source_ref}" if v.source_ref else v.source
    return f"#{v.id} <{v.message_id}> {v.size} bytes from {where} at {v.received_at:%Y-%m-%d %H:%M} UTC"


async def _list(target: StoreTarget, jsonl: bool) -> int:
    store = await open_store(target)
    try:
        kept = await store.variants()
    finally:
        await store.close()
    for v in kept:
        print(json.dumps(v.model_dump(mode="json"), ensure_ascii=False) if jsonl else _line(v))
    if not jsonl:
        print(f"{len(kept)} variant{'' if len(kept) == 1 else 's'} of known Message-IDs kept", file=sys.stderr)
    return 0


async def _raw(target: StoreTarget, variant_id: int) -> int:
    store = await open_store(target)
    try:
        raw = await store.variant_raw(variant_id)
    finally:
        await store.close()
    if raw is None:
        print(f"kvm-patchbot variants: no variant #{variant_id} in the store", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(raw)
    sys.stdout.buffer.flush()
    return 0


def _run(args: argparse.Namespace) -> int:
    target = chosen_store(args.db, args.pg_schema, args.config)
    if args.raw is not None:
        return asyncio.run(_raw(target, args.raw))
    return asyncio.run(_list(target, args.jsonl))
