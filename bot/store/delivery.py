"""Delivery queries the delivery worker (bot.notify.delivery) needs beyond the Store's basic ones.

Queueing an event's deliveries and advancing the routing cursor happen in one
transaction, so a crash between them neither loses nor doubles a delivery.
A delivery stays `pending` until its last Discord call is recorded; `attempts`
counts the tries begun (a pending delivery with attempts > 0 was interrupted).
A delivery Discord refused with a 403 is `parked` with its channel: kept, not
failed, and made pending again when permissions change, on a timer, at start,
or by hand (`kvm-patchbot deliveries retry`, which leaves a note in the
`deliveries.retry` cursor for the running service).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timezone

from sqlalchemy import BigInteger, Integer, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.series.models import Event
from bot.store import schema as t
from bot.store.engine import insert_ignore, upsert
from bot.store.models import DeliveryRow
from bot.store.reads import event_from_row
from bot.store.store import Store

ROUTE_CURSOR = "notify.routed"
RETRY_CURSOR = "deliveries.retry"
PENDING, DONE, FAILED, PARKED = "pending", "done", "failed", "parked"
# The series' card was taken down from the channel (it stopped matching there,
# bot.notify.delivery.removal): routed there again, the row is pending again.
REMOVED = "removed"

# Mails stored under a source with this prefix are history being back-filled:
# tracked like any other, but their events are not announced (importing years
# of archive must not post thousands of old cards).
BACKFILL_PREFIX = "backfill:"


def backfill_source(label: str) -> str:
    return label if label.startswith(BACKFILL_PREFIX) else BACKFILL_PREFIX + label


async def backfilled(store: Store, message_ids: Sequence[str]) -> set[str]:
    """Those of `message_ids` whose mail came in by a back-fill."""
    if not message_ids:
        return set()
    q = select(t.mails.c.message_id).where(
        t.mails.c.message_id.in_(list(message_ids)),
        t.mails.c.source.startswith(BACKFILL_PREFIX),
    )
    async with store.reads.connect() as conn:
        return set(await conn.scalars(q))


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def routed_upto(store: Store, cursor: str = ROUTE_CURSOR) -> int:
    value = await store.get_cursor(cursor)
    return int(value) if value else 0


async def queue_routed(
    store: Store,
    rows: Sequence[tuple[int, int, int | None]],
    upto: int,
    cursor: str = ROUTE_CURSOR,
) -> None:
    """Queue (event_id, channel_id, subscription_id) deliveries and mark events up to `upto` routed.

    A row whose card was taken down there (`REMOVED`) is pending again: the
    series matches the channel once more, and is owed everything again."""
    async with store.writes.begin() as conn:
        await _queue(conn, rows)
        await conn.execute(upsert(conn, t.cursors, ["name"]), {"name": cursor, "value": str(upto)})


async def queue_again(store: Store, rows: Sequence[tuple[int, int, int | None]]) -> None:
    """`queue_routed` without moving the cursor: a series that matched its
    channel again while its card there was being taken down."""
    async with store.writes.begin() as conn:
        await _queue(conn, rows)


async def _queue(conn: AsyncConnection, rows: Sequence[tuple[int, int, int | None]]) -> None:
    if not rows:
        return
    now = _now()
    await conn.execute(
        insert_ignore(conn, t.deliveries),
        [
            {"event_id": e, "channel_id": c, "subscription_id": s, "status": "pending",
             "attempts": 0, "error": None, "discord_message_id": None, "updated_at": now}
            for e, c, s in rows
        ],
    )
    d = t.deliveries
    for channel_id, event_ids in _by_channel(rows).items():
        await conn.execute(
            update(d)
            .where(d.c.status == REMOVED, d.c.channel_id == channel_id, d.c.event_id.in_(event_ids))
            # Message ids were cleared when the card was taken down (an alert's is kept).
            .values(status=PENDING, attempts=0, error=None, updated_at=now)
        )


def _by_channel(rows: Sequence[tuple[int, int, int | None]]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for e, c, _ in rows:
        out.setdefault(c, []).append(e)
    return out


async def pending_channels(store: Store) -> list[int]:
    q = select(t.deliveries.c.channel_id).distinct().where(t.deliveries.c.status == "pending")
    async with store.reads.connect() as conn:
        return [int(c) for c in (await conn.scalars(q))]


async def pending_for_channel(
    store: Store, channel_id: int, limit: int = 50, skip: Collection[int] = ()
) -> list[DeliveryRow]:
    """A channel's pending deliveries, oldest event first (the order they must be
    posted in), but those of `skip` (owed a card edit, held back). During a
    backlog those are many: they are read but left out before validation,
    which cost more than posting when each nudge validated them all again."""
    q = (
        select(t.deliveries)
        .where(t.deliveries.c.channel_id == channel_id, t.deliveries.c.status == "pending")
        .order_by(t.deliveries.c.event_id)
        .limit(limit + len(skip))
    )
    async with store.reads.connect() as conn:
        rows = [r for r in (await conn.execute(q)).mappings() if r["event_id"] not in skip][:limit]
    return [DeliveryRow.model_validate(dict(r)) for r in rows]


async def pending_count(store: Store) -> int:
    q = select(func.count()).select_from(t.deliveries).where(t.deliveries.c.status == "pending")
    async with store.reads.connect() as conn:
        return int(await conn.scalar(q) or 0)


async def unsettled_count(store: Store) -> int:
    """Deliveries pending or parked, read at one instant (they move between the two)."""
    q = select(func.count()).select_from(t.deliveries).where(t.deliveries.c.status.in_([PENDING, PARKED]))
    async with store.reads.connect() as conn:
        return int(await conn.scalar(q) or 0)


async def count_by_status(store: Store) -> dict[str, int]:
    q = select(t.deliveries.c.status, func.count()).group_by(t.deliveries.c.status)
    async with store.reads.connect() as conn:
        return {s: int(n) for s, n in (await conn.execute(q))}


# The delivery writes every post makes, built once with bound parameters: on
# SQLite those that queue together go as one executemany (bot.store.writegate).
_ONE_DELIVERY = (t.deliveries.c.event_id == bindparam("b_event"), t.deliveries.c.channel_id == bindparam("b_channel"))
_BEGIN_ATTEMPT = (
    update(t.deliveries).where(*_ONE_DELIVERY).values(attempts=t.deliveries.c.attempts + 1, updated_at=bindparam("b_now"))
)
# One shape for every settle, so that settles of different kinds queued
# together still go as one executemany: a message id or thread not given
# leaves the row's as it is.
_SETTLE = (
    update(t.deliveries)
    .where(*_ONE_DELIVERY)
    .values(
        status=bindparam("b_status"),
        error=bindparam("b_error"),
        updated_at=bindparam("b_now"),
        discord_message_id=func.coalesce(bindparam("b_message", type_=BigInteger), t.deliveries.c.discord_message_id),
        posted_in=func.coalesce(bindparam("b_posted_in", type_=BigInteger), t.deliveries.c.posted_in),
        attempts=t.deliveries.c.attempts + bindparam("b_attempted", type_=Integer),
    )
)


async def begin_attempt(store: Store, event_id: int, channel_id: int) -> None:
    await store.writes.execute(_BEGIN_ATTEMPT, {"b_event": event_id, "b_channel": channel_id, "b_now": _now()})


async def settle(
    store: Store,
    event_id: int,
    channel_id: int,
    status: str,
    *,
    error: str | None = None,
    discord_message_id: int | None = None,
    attempted: bool = False,
    posted_in: int | None = None,
) -> None:
    """Record where a delivery ended (done or failed), or a message id on the way
    (and the channel or thread it is in); `attempted` counts the try that ended here."""
    await settle_many(
        store, [event_id], channel_id, status,
        error=error, discord_message_id=discord_message_id, attempted=attempted, posted_in=posted_in,
    )


async def settle_many(
    store: Store,
    event_ids: Sequence[int],
    channel_id: int,
    status: str,
    *,
    error: str | None = None,
    discord_message_id: int | None = None,
    attempted: bool = False,
    posted_in: int | None = None,
) -> None:
    """`settle` for several events of one channel in one write (coalesced card edits)."""
    if not event_ids:
        return
    common: dict[str, object] = {
        "b_channel": channel_id, "b_status": status, "b_error": error, "b_now": _now(),
        "b_message": discord_message_id, "b_posted_in": posted_in, "b_attempted": int(attempted),
    }
    # Every channel settles its own rows: on SQLite the channels share commits.
    await store.writes.execute(_SETTLE, [{**common, "b_event": event_id} for event_id in dict.fromkeys(event_ids)])


async def fail_channel(store: Store, channel_id: int, error: str) -> int:
    """Every pending delivery to a channel that is gone: failed, with the reason."""
    async with store.writes.begin() as conn:
        res = await conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.channel_id == channel_id, t.deliveries.c.status == "pending")
            .values(status="failed", error=error, updated_at=_now())
        )
        return res.rowcount


async def get_event(store: Store, event_id: int) -> Event | None:
    found = await store.events_by_ids([event_id])
    return found[0] if found else None


async def failed_deliveries(store: Store, limit: int = 100) -> list[DeliveryRow]:
    q = (
        select(t.deliveries)
        .where(t.deliveries.c.status == "failed")
        .order_by(t.deliveries.c.event_id)
        .limit(limit)
    )
    async with store.reads.connect() as conn:
        return [DeliveryRow.model_validate(dict(r)) for r in (await conn.execute(q)).mappings()]


async def park_channel(store: Store, channel_id: int, error: str) -> int:
    """Every pending delivery to the channel: parked, with the refusal."""
    async with store.writes.begin() as conn:
        res = await conn.execute(
            update(t.deliveries)
            .where(t.deliveries.c.channel_id == channel_id, t.deliveries.c.status == PENDING)
            .values(status=PARKED, error=error, updated_at=_now())
        )
        return res.rowcount


async def unpark(store: Store, channel_id: int | None = None, *, failed: bool = False) -> int:
    """Parked deliveries (of one channel, or all) pending again; `failed` ones too if asked."""
    statuses = [PARKED, FAILED] if failed else [PARKED]
    q = update(t.deliveries).where(t.deliveries.c.status.in_(statuses))
    if channel_id is not None:
        q = q.where(t.deliveries.c.channel_id == channel_id)
    async with store.writes.begin() as conn:
        res = await conn.execute(q.values(status=PENDING, error=None, updated_at=_now()))
        return res.rowcount


async def parked_channels(store: Store) -> list[int]:
    q = select(t.deliveries.c.channel_id).distinct().where(t.deliveries.c.status == PARKED)
    async with store.reads.connect() as conn:
        return [int(c) for c in (await conn.scalars(q))]


async def request_retry(store: Store, channel_id: int | None = None, *, failed: bool = False) -> int:
    """By hand: requeue parked (and `failed`) deliveries, and tell the running service."""
    count = await unpark(store, channel_id, failed=failed)
    note = f"{_now().isoformat()} {channel_id if channel_id is not None else '*'}"
    await store.set_cursor(RETRY_CURSOR, note)
    return count


def retry_note_channel(note: str) -> int | None:
    """The channel a `request_retry` note names (None: every channel)."""
    target = note.rsplit(" ", 1)[-1]
    return None if target == "*" else int(target)


async def list_deliveries(
    store: Store, *, status: str | None = None, channel_id: int | None = None, limit: int = 100
) -> list[DeliveryRow]:
    q = select(t.deliveries).order_by(t.deliveries.c.event_id).limit(limit)
    if status is not None:
        q = q.where(t.deliveries.c.status == status)
    if channel_id is not None:
        q = q.where(t.deliveries.c.channel_id == channel_id)
    async with store.reads.connect() as conn:
        return [DeliveryRow.model_validate(dict(r)) for r in (await conn.execute(q)).mappings()]


# ------------------------------------------------------------ settling (bot.notify.delivery.settle)

SETTLE_PREFIX = "settle."


async def series_events(store: Store, series_id: int) -> list[Event]:
    """Every outbox event of one series, oldest first: what a channel the
    series starts matching is owed."""
    q = select(t.events).where(t.events.c.series_id == series_id).order_by(t.events.c.id)
    async with store.reads.connect() as conn:
        return [event_from_row(r) for r in (await conn.execute(q)).mappings()]


async def posted_patch_slots(store: Store, series_id: int, channel_id: int) -> set[int]:
    """The patch slots of a series whose message is posted in a channel."""
    q = (
        select(t.events.c.data)
        .join(t.deliveries, t.deliveries.c.event_id == t.events.c.id)
        .where(
            t.events.c.series_id == series_id,
            t.events.c.kind == "patch_added",
            t.deliveries.c.channel_id == channel_id,
            t.deliveries.c.discord_message_id.is_not(None),
        )
    )
    async with store.reads.connect() as conn:
        return {int(d["slot"]) for d in await conn.scalars(q) if isinstance(d.get("slot"), int)}


async def settle_records(store: Store) -> dict[int, str]:
    """series id -> its settle record (see bot.notify.delivery.settle)."""
    q = select(t.cursors.c.name, t.cursors.c.value).where(t.cursors.c.name.startswith(SETTLE_PREFIX))
    async with store.reads.connect() as conn:
        return {int(n[len(SETTLE_PREFIX):]): v for n, v in (await conn.execute(q)).all()}


async def save_settle_records(store: Store, records: dict[int, str], dropped: Sequence[int] = ()) -> None:
    async with store.writes.begin() as conn:
        if records:
            await conn.execute(
                upsert(conn, t.cursors, ["name"]),
                [{"name": f"{SETTLE_PREFIX}{sid}", "value": v} for sid, v in records.items()],
            )
        if dropped:
            await conn.execute(
                t.cursors.delete().where(t.cursors.c.name.in_([f"{SETTLE_PREFIX}{sid}" for sid in dropped]))
            )
