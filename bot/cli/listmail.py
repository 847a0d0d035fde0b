"""`kvm-patchbot list-mail`: mail from the list's software, kept for the operator.

The subscription confirmation to answer after subscribing the bot's address,
bounces and probes of that address, welcome and goodbye notices: the sink
keeps each apart from list traffic (never tracked or announced) and logs it.
`--raw ID` writes one's bytes, e.g. to read the confirmation's instructions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from bot.cli.common import StoreTarget, add_store_arguments, chosen_store, open_store
from bot.store import ListMail


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list-mail", help="list the subscription confirmations, bounces and notices received")
    add_store_arguments(p)
    p.add_argument("--config", type=Path, help="configuration file")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per mail")
    p.add_argument("--raw", metavar="ID", type=int, help="write this mail's bytes to stdout instead")
    p.set_defaults(func=_run)


def _line(m: ListMail) -> str:
    return (
        f"#{m.id} {m.kind} at {m.received_at:%Y-%m-%d %H:%M} UTC from {m.sender or '<' + m.mail_from + '>'}: "
        f"{m.subject or '(no subject)'}"
    )


async def _list(target: StoreTarget, jsonl: bool) -> int:
    store = await open_store(target)
    try:
        kept = await store.list_mail()
    finally:
        await store.close()
    for m in kept:
        print(json.dumps(m.model_dump(mode="json"), ensure_ascii=False) if jsonl else _line(m))
    if not jsonl:
        print(f"{len(kept)} list-management mail{'' if len(kept) == 1 else 's'} kept", file=sys.stderr)
    return 0


async def _raw(target: StoreTarget, mail_id: int) -> int:
    store = await open_store(target)
    try:
        raw = await store.list_mail_raw(mail_id)
    finally:
        await store.close()
    if raw is None:
        print(f"kvm-patchbot list-mail: no list-management mail #{mail_id} in the store", file=sys.stderr)
        return 1
    sys.stdout.buffer.write(raw)
    sys.stdout.buffer.flush()
    return 0


def _run(args: argparse.Namespace) -> int:
    target = chosen_store(args.db, args.pg_schema, args.config)
    if args.raw is not None:
        return asyncio.run(_raw(target, args.raw))
    return asyncio.run(_list(target, args.jsonl))
