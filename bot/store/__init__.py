"""Persistence: raw mail first, then series, lineages, trailers and the event outbox.

    store = await Store.open(url)            # migrates (Alembic), loads the tracker index
    res = await store.ingest(raw, source="smtp", source_ref=None)   # one transaction
    stats = await store.ingest_many(records, source="public-inbox")  # bulk, batched

Reads: get_series, list_series(since, until, lineage_id, author, complete, limit),
series_for_message, lineage, mails(since, until, source_refs), raw, unparseable,
events_after, last_event_id; variants, variant_raw, keep_list_mail, list_mail,
list_mail_raw (bot.store.kept). Delivery: add_subscription, list_subscriptions,
remove_subscription, sync_config, disable_channel, add_deliveries,
pending_deliveries, record_delivery, get_delivery, get_post, save_post (more in
bot.store.delivery). Cursors: get_cursor, set_cursor. Maintenance: reparse.
SQLite (WAL, foreign keys) and PostgreSQL share every code path.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.store.models import (
        DeliveryRow,
        IngestResult,
        IngestStats,
        ListMail,
        PostRow,
        ReparseStats,
        StoredMail,
        SubscriptionRow,
        UnparsedMail,
        VariantMail,
    )
    from bot.store.store import Store, fallback_message_id

# Imported on first use: the bulk path's parse worker imports bot.store.parsepool,
# and with it this package; importing SQLAlchemy and the store there cost 0.25 s
# of its start-up (measured) and memory it never uses.
_WHERE = {
    "DeliveryRow": "bot.store.models",
    "IngestResult": "bot.store.models",
    "IngestStats": "bot.store.models",
    "ListMail": "bot.store.models",
    "VariantMail": "bot.store.models",
    "PostRow": "bot.store.models",
    "ReparseStats": "bot.store.models",
    "StoredMail": "bot.store.models",
    "SubscriptionRow": "bot.store.models",
    "UnparsedMail": "bot.store.models",
    "Store": "bot.store.store",
    "fallback_message_id": "bot.store.store",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(where), name)
    globals()[name] = value
    return value


__all__ = [
    "DeliveryRow",
    "IngestResult",
    "IngestStats",
    "ListMail",
    "PostRow",
    "ReparseStats",
    "Store",
    "StoredMail",
    "SubscriptionRow",
    "UnparsedMail",
    "VariantMail",
    "fallback_message_id",
]
