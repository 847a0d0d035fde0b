"""Read a digest window from the store: the thin I/O layer over `render`.

The store hands back mails in arrival order; the digest only adds each patch
mail's series (for grouping the patch list) and renders.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.digest.entries import is_patch_mail
from bot.digest.model import DigestMail, Window
from bot.digest.render import render_digest
from bot.store import Store


async def window_mails(
    store: Store,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    source_refs: Sequence[str] | None = None,
) -> list[DigestMail]:
    """The window's mails as digest inputs, in the store's arrival order."""
    stored = await store.mails(since=since, until=until, source_refs=source_refs)
    # One series lookup answers for all its members: a lookup per series, not per patch.
    known: dict[str, int] = {}
    mails: list[DigestMail] = []
    for item in stored:
        series_id = None
        if is_patch_mail(item.parsed):
            series_id = known.get(item.message_id)
            if series_id is None:
                view = await store.series_for_message(item.message_id)
                if view is not None:
                    series_id = view.series_id
                    known.update((p.message_id, view.series_id) for p in view.patches)
        mails.append(DigestMail(seq=item.seq, parsed=item.parsed, series_id=series_id))
    return mails


async def digest_from_store(
    store: Store,
    window: Window,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    source_refs: Sequence[str] | None = None,
) -> str:
    mails = await window_mails(store, since=since, until=until, source_refs=source_refs)
    return render_digest(window, mails)


class StoreDigest:
    """The digest of a date window of the store: what the bot's /digest command asks for."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def __call__(self, since: datetime, until: datetime) -> str:
        return await digest_from_store(self.store, Window.for_dates(since, until), since=since, until=until)
