"""Persistence: raw mail first, then series, lineages, trailers and the event outbox.

    store = await Store.open(url)            # migrates (Alembic), loads the tracker index
    res = await store.ingest(raw, source="smtp", source_ref=None)   # one transaction
    stats = await store.ingest_many(records, source="public-inbox")  # bulk, batched

Reads: get_series, list_series(since, until, lineage_id, author, complete, limit),
series_for_message, lineage, mails(since, until, source_refs), raw, unparseable,
events_after, last_event_id. Discord stage: add_subscription, list_subscriptions,
remove_subscription, sync_config, disable_channel, add_deliveries,
pending_deliveries, record_delivery, get_delivery, get_post, save_post (more in
bot.store.delivery). Cursors: get_cursor, set_cursor. Maintenance: reparse.
SQLite (WAL, foreign keys) and PostgreSQL share every code path.
"""

from bot.store.models import (
    Delivery,
    IngestResult,
    IngestStats,
    Post,
    ReparseStats,
    StoredMail,
    Subscription,
    UnparsedMail,
)
from bot.store.store import Store, fallback_message_id

__all__ = [
    "Delivery",
    "IngestResult",
    "IngestStats",
    "Post",
    "ReparseStats",
    "Store",
    "StoredMail",
    "Subscription",
    "UnparsedMail",
    "fallback_message_id",
]
