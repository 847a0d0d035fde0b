"""Subscriptions, deliveries, posts and cursors: the rows delivery keeps."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import SubscriptionConfig, SubscriptionFilter
from bot.store import schema as t
from bot.store.engine import insert_ignore, upsert
from bot.store.models import DeliveryRow, PostRow, SubscriptionRow
from bot.store.writegate import Writes

ORIGINS = ("config", "cli", "slash")
STATUSES = ("pending", "done", "failed")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _sub_values(cfg: SubscriptionConfig) -> dict[str, Any]:
    return {
        "guild_id": cfg.guild,
        "channel_id": cfg.channel,
        "filter": cfg.filter.model_dump(mode="json"),
        "threads": cfg.threads,
        "single_threads": cfg.single_threads,
        "alert_channel_id": cfg.alert_channel,
        "alert_role_id": cfg.alert_role,
    }


def _subscription(r: Any) -> SubscriptionRow:
    return SubscriptionRow(
        id=r["id"], guild_id=r["guild_id"], channel_id=r["channel_id"],
        filter=SubscriptionFilter.model_validate(r["filter"]), threads=r["threads"],
        single_threads=r["single_threads"], alert_channel_id=r["alert_channel_id"], alert_role_id=r["alert_role_id"],
        enabled=r["enabled"], origin=r["origin"], disabled_reason=r["disabled_reason"],
        created_at=r["created_at"],
    )


class AdminMixin:
    _engine: AsyncEngine
    reads: AsyncEngine  # autocommit on PostgreSQL (bot.store.engine.read_engine)
    writes: Writes

    # ------------------------------------------------------------ subscriptions

    async def add_subscription(self, cfg: SubscriptionConfig, origin: str = "cli") -> int:
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}, not {origin!r}")
        async with self.writes.begin() as conn:
            res = await conn.execute(
                insert(t.subscriptions).returning(t.subscriptions.c.id),
                {**_sub_values(cfg), "enabled": True, "origin": origin, "created_at": _now()},
            )
            return res.scalar_one()

    async def list_subscriptions(self, *, enabled_only: bool = False) -> list[SubscriptionRow]:
        q = select(t.subscriptions).order_by(t.subscriptions.c.id)
        if enabled_only:
            q = q.where(t.subscriptions.c.enabled.is_(True))
        async with self.reads.connect() as conn:
            return [_subscription(r) for r in (await conn.execute(q)).mappings()]

    async def remove_subscription(self, subscription_id: int) -> bool:
        async with self.writes.begin() as conn:
            res = await conn.execute(delete(t.subscriptions).where(t.subscriptions.c.id == subscription_id))
            return res.rowcount > 0

    async def sync_config(self, configs: list[SubscriptionConfig]) -> tuple[int, int, int]:
        """Make the config-declared subscriptions match `configs`: (added, kept, removed).

        A declared subscription is identified by guild, channel and filter; its
        other settings are updated in place (its enabled state is kept)."""
        wanted = {
            (c.guild, c.channel, c.filter.model_dump_json()): c for c in configs
        }
        added = kept = removed = 0
        async with self.writes.begin() as conn:
            rows = (
                await conn.execute(select(t.subscriptions).where(t.subscriptions.c.origin == "config"))
            ).mappings().all()
            for r in rows:
                key = (r["guild_id"], r["channel_id"], SubscriptionFilter.model_validate(r["filter"]).model_dump_json())
                cfg = wanted.pop(key, None)
                if cfg is None:
                    await conn.execute(delete(t.subscriptions).where(t.subscriptions.c.id == r["id"]))
                    removed += 1
                else:
                    await conn.execute(
                        update(t.subscriptions).where(t.subscriptions.c.id == r["id"]).values(**_sub_values(cfg))
                    )
                    kept += 1
            for cfg in wanted.values():
                await conn.execute(
                    insert(t.subscriptions),
                    {**_sub_values(cfg), "enabled": True, "origin": "config", "created_at": _now()},
                )
                added += 1
        return added, kept, removed

    async def disable_channel(self, channel_id: int, reason: str) -> int:
        """Disable every subscription posting to this channel (e.g. it was deleted)."""
        async with self.writes.begin() as conn:
            res = await conn.execute(
                update(t.subscriptions)
                .where(t.subscriptions.c.channel_id == channel_id)
                .values(enabled=False, disabled_reason=reason)
            )
            return res.rowcount

    # ------------------------------------------------------------ deliveries

    async def add_deliveries(self, event_id: int, targets: list[tuple[int, int | None]]) -> int:
        """Queue an event for these (channel_id, subscription_id) pairs; existing ones are kept."""
        if not targets:
            return 0
        now = _now()
        async with self.writes.begin() as conn:
            res = await conn.execute(
                insert_ignore(conn, t.deliveries).returning(t.deliveries.c.channel_id),
                [
                    {"event_id": event_id, "channel_id": ch, "subscription_id": sub, "status": "pending",
                     "attempts": 0, "error": None, "discord_message_id": None, "updated_at": now}
                    for ch, sub in targets
                ],
            )
            return len(res.all())  # executemany rowcount is not portable

    async def pending_deliveries(self, *, limit: int = 100, max_attempts: int | None = None) -> list[DeliveryRow]:
        """Deliveries still to do (status pending), oldest event first; with
        `max_attempts`, also failed ones tried fewer times than that."""
        cond = t.deliveries.c.status == "pending"
        if max_attempts is not None:
            cond = cond | and_(t.deliveries.c.status == "failed", t.deliveries.c.attempts < max_attempts)
        q = (
            select(t.deliveries)
            .where(cond)
            .order_by(t.deliveries.c.event_id, t.deliveries.c.channel_id)
            .limit(limit)
        )
        async with self.reads.connect() as conn:
            return [DeliveryRow.model_validate(dict(r)) for r in (await conn.execute(q)).mappings()]

    async def record_delivery(
        self,
        event_id: int,
        channel_id: int,
        status: str,
        discord_message_id: int | None = None,
        error: str | None = None,
        *,
        subscription_id: int | None = None,
    ) -> None:
        """Record an attempt's outcome (counts the attempt unless status is pending)."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        now = _now()
        tried = 0 if status == "pending" else 1
        async with self.writes.begin() as conn:
            res = await conn.execute(
                update(t.deliveries)
                .where(t.deliveries.c.event_id == event_id, t.deliveries.c.channel_id == channel_id)
                .values(
                    status=status, error=error, updated_at=now,
                    attempts=t.deliveries.c.attempts + tried,
                    discord_message_id=discord_message_id
                    if discord_message_id is not None
                    else t.deliveries.c.discord_message_id,
                )
            )
            if res.rowcount == 0:
                await conn.execute(
                    insert(t.deliveries),
                    {"event_id": event_id, "channel_id": channel_id, "subscription_id": subscription_id,
                     "status": status, "attempts": tried, "error": error,
                     "discord_message_id": discord_message_id, "updated_at": now},
                )

    async def get_delivery(self, event_id: int, channel_id: int) -> DeliveryRow | None:
        q = select(t.deliveries).where(t.deliveries.c.event_id == event_id, t.deliveries.c.channel_id == channel_id)
        async with self.reads.connect() as conn:
            row = (await conn.execute(q)).mappings().first()
        return None if row is None else DeliveryRow.model_validate(dict(row))

    # ------------------------------------------------------------ posts

    async def get_post(self, series_id: int, channel_id: int) -> PostRow | None:
        q = select(t.posts).where(t.posts.c.series_id == series_id, t.posts.c.channel_id == channel_id)
        async with self.reads.connect() as conn:
            row = (await conn.execute(q)).mappings().first()
        return None if row is None else PostRow.model_validate(dict(row))

    async def save_post(
        self,
        series_id: int,
        channel_id: int,
        *,
        card_message_id: int | None = None,
        thread_id: int | None = None,
        rendered_hash: str | None = None,
        thread_name: str | None = None,
        removals: int = 0,
    ) -> None:
        """Insert or replace the card/thread a series has in a channel."""
        await self.writes.execute(
            upsert(self._engine, t.posts, ["series_id", "channel_id"]),
            {"series_id": series_id, "channel_id": channel_id, "card_message_id": card_message_id,
             "thread_id": thread_id, "rendered_hash": rendered_hash, "thread_name": thread_name,
             "removals": removals},
        )

    # ------------------------------------------------------------ cursors

    async def get_cursor(self, name: str) -> str | None:
        async with self.reads.connect() as conn:
            return await conn.scalar(select(t.cursors.c.value).where(t.cursors.c.name == name))

    async def set_cursor(self, name: str, value: str) -> None:
        async with self.writes.begin() as conn:
            await conn.execute(upsert(conn, t.cursors, ["name"]), {"name": name, "value": value})
