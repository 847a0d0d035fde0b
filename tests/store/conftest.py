"""What two stores must agree on; the `store` and `store_target` fixtures (both databases)
are in tests/conftest.py, the mail builders in tests/helpers.py."""

from __future__ import annotations

from bot.store import Store
# Re-exported while branches written against the old home are merged; import tests.helpers.
from tests.helpers import T0, patch_body, raw_mail, series_mails  # noqa: F401


async def outcome(store: Store) -> tuple[list[dict], list[tuple]]:
    """What two stores fed the same mail must agree on: every series, every event."""
    views = [v.model_dump() for v in await store.list_series()]
    events = [(e.kind, e.series_id, e.message_id, e.data) for e in await store.events_after(0, 10**6)]
    return views, events
