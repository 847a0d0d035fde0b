"""`kvm-patchbot deliveries list|retry`: what is owed to Discord, and a retry by hand.

A delivery Discord refused with a 403 (the bot lost access to a channel, or a
permission) is parked, never dropped. The running service retries parked
deliveries when it sees permissions change and on a timer; `retry` does it
now, e.g. after fixing a channel's permissions while the bot was offline:

    kvm-patchbot deliveries retry --channel 123456789012345678

It makes the deliveries pending again in the store and leaves a note the
running service picks up within seconds (it need not be restarted).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from bot.cli.common import add_store_arguments, chosen_store, open_store
from bot.store import delivery as q

STATUSES = (q.PENDING, q.PARKED, q.FAILED, q.DONE, q.REMOVED)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("deliveries", help="list deliveries, or retry parked ones by hand")
    add_store_arguments(p)
    p.add_argument("--config", type=Path, help="configuration file")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    ls = actions.add_parser("list", help="deliveries and where they stand (default: parked and failed)")
    ls.add_argument("--status", choices=STATUSES, help="only this status")
    ls.add_argument("--channel", type=int, help="only this channel id")
    ls.add_argument("--limit", type=int, default=100)
    ls.set_defaults(func=_run)

    retry = actions.add_parser("retry", help="make parked deliveries pending again")
    retry.add_argument("--channel", type=int, help="only this channel id (default: every channel)")
    retry.add_argument("--failed", action="store_true", help="failed deliveries too")
    retry.set_defaults(func=_run)


async def _main(args: argparse.Namespace) -> int:
    store = await open_store(chosen_store(args.db, args.pg_schema, args.config))
    try:
        if args.action == "retry":
            count = await q.request_retry(store, args.channel, failed=args.failed)
            where = f"channel {args.channel}" if args.channel is not None else "every channel"
            print(f"{count} deliveries to {where} pending again; a running service retries them within seconds")
            return 0
        statuses = [args.status] if args.status else [q.PARKED, q.FAILED]
        for status in statuses:
            for d in await q.list_deliveries(store, status=status, channel_id=args.channel, limit=args.limit):
                print(f"event {d.event_id} channel {d.channel_id} {d.status} attempts {d.attempts}: {d.error or ''}")
    finally:
        await store.close()
    return 0


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))
