"""What the outbox still owes, and what it delivered: for the metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select

from bot.store import schema as t
from bot.store.delivery import ROUTE_CURSOR, routed_upto
from bot.store.store import Store


@dataclass(frozen=True)
class OutboxStatus:
    pending: int  # deliveries pending, plus events not yet routed
    oldest: datetime | None  # when the oldest event still owed was created


async def outbox_status(store: Store, cursor: str = ROUTE_CURSOR) -> OutboxStatus:
    routed = await routed_upto(store, cursor)
    pending_events = select(t.deliveries.c.event_id).where(t.deliveries.c.status == "pending")
    owed = or_(t.events.c.id > routed, t.events.c.id.in_(pending_events))
    async with store.reads.connect() as conn:
        deliveries = await conn.scalar(
            select(func.count()).select_from(t.deliveries).where(t.deliveries.c.status == "pending")
        )
        unrouted = await conn.scalar(select(func.count()).select_from(t.events).where(t.events.c.id > routed))
        oldest = await conn.scalar(select(func.min(t.events.c.created_at)).where(owed))
    return OutboxStatus(pending=int(deliveries or 0) + int(unrouted or 0), oldest=oldest)


async def delivered_after(store: Store, after: datetime | None, limit: int = 10_000) -> list[tuple[datetime, float]]:
    """(when, seconds from the event's creation, i.e. its mail's arrival) for each
    delivery made after `after`, oldest first."""
    q = (
        select(t.deliveries.c.updated_at, t.events.c.created_at)
        .join(t.events, t.events.c.id == t.deliveries.c.event_id)
        .where(t.deliveries.c.status == "done", t.deliveries.c.error.is_(None))
        .order_by(t.deliveries.c.updated_at)
        .limit(limit)
    )
    if after is not None:
        q = q.where(t.deliveries.c.updated_at > after)
    async with store.reads.connect() as conn:
        rows = (await conn.execute(q)).all()
    return [(done, max((done - created).total_seconds(), 0.0)) for done, created in rows]
