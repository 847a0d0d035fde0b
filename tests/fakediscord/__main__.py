"""python -m tests.fakediscord --port P --guild G --channels C1,C2 [--more-guild G2=C3,C4] [--token T]"""

from __future__ import annotations

import argparse
import asyncio
import sys

from .ratelimits import RateLimits
from .server import DEFAULT_GUILD_ID, FakeDiscord


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fakediscord", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--guild", type=int, default=DEFAULT_GUILD_ID)
    parser.add_argument("--channels", default="patches", help="comma-separated channel ids or names")
    parser.add_argument("--more-guild", action="append", default=[], metavar="G=C1,C2",
                        help="another guild and its channel ids (repeatable)")
    parser.add_argument("--shards", type=int, default=1, help="GET /gateway/bot's recommended shard count")
    parser.add_argument("--token", default=None, help="require this bot token (default: accept any)")
    parser.add_argument("--rate-limit", default=None,
                        help="requests/seconds for every route bucket, e.g. 50/1 (default: Discord's per-route limits)")
    parser.add_argument("--global-rate-limit", type=int, default=None,
                        help="requests per second over all routes (default: Discord's 50)")
    parser.add_argument("--fast", action="store_true", help="Discord's limits with 50 times shorter windows")
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    rate_limit = None
    if args.rate_limit:
        limit, window = args.rate_limit.split("/")
        rate_limit = (int(limit), float(window))
    specs = [c.strip() for c in args.channels.split(",") if c.strip()]
    fake = FakeDiscord(
        guild_id=args.guild,
        channels=specs,
        token=args.token,
        host=args.host,
        port=args.port,
        rate_limits=RateLimits.discord().scaled(0.02) if args.fast else None,
        rate_limit=rate_limit,
        global_rate_limit=args.global_rate_limit,
        more_guilds={int(g): [c.strip() for c in cs.split(",") if c.strip()]
                     for g, cs in (spec.split("=", 1) for spec in args.more_guild)},
        shards=args.shards,
    )
    async with fake:
        channels = ",".join(f"{c.id}:{c.name}" for c in fake.channels)
        print(
            f"fakediscord ready api={fake.api_base_url} gateway={fake.gateway_url} "
            f"control={fake.base_url}/_fake guild={fake.guild_id} channels={channels}",
            flush=True,
        )
        await asyncio.Event().wait()  # until killed


def main(argv: list[str] | None = None) -> int:
    try:
        asyncio.run(serve(parse_args(argv)))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
