"""Persistence: raw mail first, then series, lineages, trailers and the event outbox.

`await Store.open(url)` migrates the database (SQLite or PostgreSQL) and loads
the tracker's in-memory index; `store.ingest(raw)` commits one mail and its
consequences; `store.ingest_many(records, source=...)` is the bulk path.
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
