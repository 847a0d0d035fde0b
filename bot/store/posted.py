"""Where a series' patch messages and stable alerts were posted in a channel,
read from the deliveries that posted them (their Discord message ids)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, not_, select, update

from bot.series.models import EventKind
from bot.store import schema as t
from bot.store.delivery import REMOVED
from bot.store.engine import chunked
from bot.store.models import PostRow
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
    async with store.reads.connect() as conn:
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
    async with store.reads.connect() as conn:
        found = await conn.scalar(q)
    return None if found is None else int(found)


# ------------------------------------------------------------ taking a card down (bot.notify.delivery.removal)

def _not_alert() -> Any:
    # A stable alert is about its patch, not the card: it stays when the card
    # goes (bot.notify.delivery.removal says why), and so does its record. (A
    # stable request delivered to a card channel that is no alert channel
    # only edits the card: it holds no message.)
    d, e = t.deliveries, t.events
    return not_(and_(e.c.kind == str(EventKind.STABLE_REQUESTED), d.c.discord_message_id.is_not(None)))


async def routed_channels(store: Store, series_id: int) -> set[int]:
    """The channels the series has been routed to by a subscription (its card
    posted or owed there), alerts aside, and not taken down since."""
    return (await routed_channels_many(store, [series_id])).get(series_id, set())


async def routed_channels_many(store: Store, series_ids: Collection[int]) -> dict[int, set[int]]:
    """`routed_channels` of each series (those routed nowhere are left out), in
    one read: routing asks it of every series a batch of events reshapes."""
    d, e = t.deliveries, t.events
    found: dict[int, set[int]] = {}
    async with store.reads.connect() as conn:
        for part in chunked(sorted(series_ids), 500):
            q = (
                select(e.c.series_id, d.c.channel_id)
                .distinct()
                .join(e, e.c.id == d.c.event_id)
                .where(e.c.series_id.in_(part), d.c.status != REMOVED, d.c.subscription_id.is_not(None), _not_alert())
            )
            for sid, channel_id in await conn.execute(q):
                found.setdefault(int(sid), set()).add(int(channel_id))
    return found


async def series_messages(store: Store, series_id: int, channel_id: int) -> list[tuple[int, int | None]]:
    """(message id, channel or thread it is in; None: not recorded) of every
    message but alerts that the series' deliveries posted in the channel."""
    d, e = t.deliveries, t.events
    q = (
        select(d.c.discord_message_id, d.c.posted_in)
        .join(e, e.c.id == d.c.event_id)
        .where(
            e.c.series_id == series_id, d.c.channel_id == channel_id,
            d.c.discord_message_id.is_not(None), _not_alert(),
        )
        .order_by(d.c.event_id)
    )
    async with store.reads.connect() as conn:
        return [(int(m), None if w is None else int(w)) for m, w in await conn.execute(q)]


async def take_down(store: Store, post: PostRow, reason: str) -> PostRow:
    """Record, in one transaction, that the series' card, thread and messages
    are gone from the channel: the post keeps no ids (and counts the removal),
    and the series' deliveries there (alerts aside) are `removed`, pointing at
    no message, so edits, /series and thread order forget them, and routing
    the series here again queues them all anew."""
    d, e = t.deliveries, t.events
    gone = post.model_copy(
        update={"card_message_id": None, "thread_id": None, "rendered_hash": None, "thread_name": None,
                "removals": post.removals + 1}
    )
    events = select(e.c.id).where(e.c.series_id == post.series_id)
    alerts = select(e.c.id).where(
        e.c.series_id == post.series_id, e.c.kind == str(EventKind.STABLE_REQUESTED)
    ).join(d, d.c.event_id == e.c.id).where(d.c.channel_id == post.channel_id, d.c.discord_message_id.is_not(None))
    async with store.writes.begin() as conn:
        await conn.execute(
            update(t.posts)
            .where(t.posts.c.series_id == post.series_id, t.posts.c.channel_id == post.channel_id)
            .values(card_message_id=None, thread_id=None, rendered_hash=None, thread_name=None,
                    removals=gone.removals)
        )
        await conn.execute(
            update(d)
            .where(d.c.channel_id == post.channel_id, d.c.event_id.in_(events), d.c.event_id.not_in(alerts))
            .values(status=REMOVED, error=reason, discord_message_id=None, posted_in=None,
                    updated_at=datetime.now(timezone.utc))
        )
    return gone
