"""`kvm-patchbot subscriptions add|list|remove`: which channels get which series.

Subscriptions from the configuration file are synced into the store when the
service starts; these commands manage the ones added by hand (origin "cli").
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

from bot.cli.common import add_store_arguments, chosen_store, open_store
from bot.config import SubscriptionConfig, SubscriptionFilter
from bot.notify.filters import KINDS
from bot.store import SubscriptionRow


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("subscriptions", help="add, list or remove Discord channel subscriptions")
    add_store_arguments(p)
    p.add_argument("--config", type=Path, help="configuration file")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="subscribe a channel")
    add.add_argument("--guild", type=int, required=True, help="guild (server) id")
    add.add_argument("--channel", type=int, required=True, help="channel id for cards")
    add.add_argument("--list", dest="lists", action="append", default=[], metavar="LIST_ID",
                     help="only mail from this List-Id (repeatable)")
    add.add_argument("--subsystem", dest="subsystems", action="append", default=[], metavar="PREFIX",
                     help='subsystem prefix, e.g. "KVM: x86", or glob, e.g. "KVM: *VMX" (repeatable)')
    add.add_argument("--path", dest="paths", action="append", default=[], metavar="GLOB",
                     help='touched file glob, e.g. "arch/x86/kvm/*" (repeatable)')
    add.add_argument("--author", dest="authors", action="append", default=[], metavar="TEXT",
                     help="substring of the author's name or address (repeatable)")
    add.add_argument("--title", dest="title_words", action="append", default=[], metavar="WORD",
                     help="a word the title must hold (a prefix: harv matches harvesting; repeatable)")
    add.add_argument("--kind", dest="kinds", action="append", default=[], choices=KINDS,
                     help="series, single, pull or backport (repeatable; backports only when named)")
    add.add_argument("--stable-only", action="store_true", help="only series asking for stable")
    add.add_argument("--fixes-only", action="store_true", help="only series with Fixes: tags")
    add.add_argument("--rfc", dest="rfc", action="store_true", default=None, help="only RFCs")
    add.add_argument("--no-rfc", dest="rfc", action="store_false", help="no RFCs")
    add.add_argument("--no-threads", action="store_true", help="cards only, no per-series thread")
    add.add_argument("--single-threads", action="store_true",
                     help="a thread for a single patch too (by default its card says it all)")
    add.add_argument("--alert-channel", type=int, help="channel for stable alerts")
    add.add_argument("--alert-role", type=int, help="role the stable alerts mention")
    add.set_defaults(func=_run)

    ls = actions.add_parser("list", help="list subscriptions")
    ls.add_argument("--json", action="store_true", help="one JSON object per line")
    ls.set_defaults(func=_run)

    rm = actions.add_parser("remove", help="remove a subscription")
    rm.add_argument("id", type=int, help="subscription id (from `list`)")
    rm.set_defaults(func=_run)


def config_from_args(args: argparse.Namespace) -> SubscriptionConfig:
    return SubscriptionConfig(
        guild=args.guild,
        channel=args.channel,
        filter=SubscriptionFilter(
            lists=args.lists,
            subsystems=args.subsystems,
            paths=args.paths,
            authors=args.authors,
            title_words=args.title_words,
            kinds=args.kinds,
            stable_only=args.stable_only,
            fixes_only=args.fixes_only,
            rfc=args.rfc,
        ),
        threads=not args.no_threads,
        single_threads=args.single_threads,
        alert_channel=args.alert_channel,
        alert_role=args.alert_role,
    )


def describe(s: SubscriptionRow) -> str:
    f = s.filter
    parts = [f"{name}={','.join(v)}" for name, v in (
        ("lists", f.lists), ("subsystems", f.subsystems), ("paths", f.paths),
        ("authors", f.authors), ("title", f.title_words), ("kinds", f.kinds),
    ) if v]
    parts += [flag for flag, on in (("stable-only", f.stable_only), ("fixes-only", f.fixes_only)) if on]
    if f.rfc is not None:
        parts.append("rfc-only" if f.rfc else "no-rfc")
    if not s.threads:
        parts.append("no-threads")
    elif s.single_threads:
        parts.append("single-threads")
    if s.alert_channel_id:
        parts.append(f"alerts->{s.alert_channel_id}" + (f" @role {s.alert_role_id}" if s.alert_role_id else ""))
    state = "enabled" if s.enabled else f"disabled ({s.disabled_reason or 'no reason'})"
    return f"#{s.id} guild {s.guild_id} channel {s.channel_id} [{s.origin}, {state}] " + (
        " ".join(parts) or "everything"
    )


async def _main(args: argparse.Namespace) -> int:
    # adding may come before the first `run` creates the store
    target = chosen_store(args.db, args.pg_schema, args.config, must_exist=args.action != "add")
    store = await open_store(target)
    try:
        if args.action == "add":
            sid = await store.add_subscription(config_from_args(args), origin="cli")
            print(f"added subscription #{sid}")
        elif args.action == "list":
            for s in await store.list_subscriptions():
                print(json.dumps(s.model_dump(mode="json")) if args.json else describe(s))
        elif args.action == "remove":
            if not await store.remove_subscription(args.id):
                print(f"no subscription #{args.id}")
                return 1
            print(f"removed subscription #{args.id}")
    finally:
        await store.close()
    return 0


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_main(args))
