"""Where a series' patch messages and stable alerts were posted in a channel,
read from the deliveries that posted them (their Discord message ids)."""

from __future__ import annotations

from sqlalchemy import select

from bot.series.models import EventKind
from bot.store import schema as t
from bot.store.store import Store


async def patch_messages(store: Store, series_id: int, channel_id: int) -> dict[str, int]:
    """{patch Message-ID: Discord message id} of the series' patch messages posted in the channel."""
    d, e = t.deliveries, t.events
    q = (
        select(e.c.message_id, d.c.discord_message_id)
        .join(e, e.c.id == d.c.event_id)
        .where(
            e.c.series_id == series_id,
            e.c.kind == str(EventKind.PATCH_ADDED),
            d.c.channel_id == channel_id,
            d.c.discord_message_id.is_not(None),
        )
        .order_by(d.c.event_id)
    )
    async with store.engine.connect() as conn:
        return {mid: int(msg) for mid, msg in await conn.execute(q)}


async def alert_message(store: Store, message_id: str, channel_id: int) -> int | None:
    """The Discord message of the stable alert the mail `message_id` got in the channel, if any."""
    d, e = t.deliveries, t.events
    q = (
        select(d.c.discord_message_id)
        .join(e, e.c.id == d.c.event_id)
        .where(
            e.c.message_id == message_id,
            e.c.kind == str(EventKind.STABLE_REQUESTED),
            d.c.channel_id == channel_id,
            d.c.discord_message_id.is_not(None),
        )
        .order_by(d.c.event_id)
        .limit(1)
    )
    async with store.engine.connect() as conn:
        found = await conn.scalar(q)
    return None if found is None else int(found)
