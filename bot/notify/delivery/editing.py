"""Editing: the coalesced card edits, beside the posting loop so new posts never wait behind them.

A delivery that only changes the card stays pending until the channel is
quiet for `coalesce_delay`, or the edit has been owed too long under steady
traffic (`max_edit_delay`); then the card is edited once to the latest render
(skipped when the render's hash is unchanged) and those deliveries are
settled together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Set as AbstractSet

from bot.notify.delivery.cache import Recent
from bot.notify.delivery.cards import Cards
from bot.notify.delivery.failures import FailureLog
from bot.notify.delivery.state import ChannelState, Progress
from bot.notify.render import render_card, render_patch
from bot.notify.sink import ChannelGone, Forbidden, PermanentError, Sink, TransientError
from bot.series.models import SeriesView
from bot.store import PostRow, Store
from bot.store import delivery as q
from bot.store import posted

log = logging.getLogger(__name__)


class CardEditor:
    def __init__(
        self,
        store: Store,
        sink: Sink,
        recent: Recent,
        cards: Cards,
        failures: FailureLog,
        progress: Progress,
        *,
        coalesce_delay: float = 0.3,
        max_edit_delay: float = 2.0,
    ) -> None:
        self.store = store
        self.sink = sink
        self.recent = recent
        self.cards = cards
        self.failures = failures
        self.progress = progress
        self.coalesce_delay = coalesce_delay
        self.max_edit_delay = max_edit_delay
        self._refused_names: set[tuple[int, str]] = set()

    async def edit_cards(self, ch: ChannelState) -> None:
        """Edits wait for the channel to be quiet for `coalesce_delay` (then every
        owed card is edited), or for a card to be stale (`_stale_cards`)."""
        if ch.parked:  # Discord refused the channel: the posting loop parks and unparks it
            await ch.unparked.wait()
            return
        if not ch.dirty:
            ch.edit_nudge.clear()
            await ch.edit_nudge.wait()
            return
        quiet_in = ch.last_delivery + self.coalesce_delay - asyncio.get_running_loop().time()
        if quiet_in <= 0:
            await self._flush_cards(ch)
        elif stale := self._stale_cards(ch):
            await self._flush_cards(ch, stale)
        else:
            await asyncio.sleep(min(quiet_in, self.coalesce_delay))  # a debounce timer
            return
        await self.progress.changed()

    def _stale_cards(self, ch: ChannelState, at_most: int = 2) -> list[int]:
        """Cards owed an edit for a while: complete series after `max_edit_delay`,
        series still arriving after 5x that (their next patch would need another edit)."""
        now = asyncio.get_running_loop().time()
        out = []
        for sid, since in ch.dirty_at.items():  # oldest first
            view = self.recent.cached_series(sid)
            wait = self.max_edit_delay * (1 if view is None or view.complete else 5)
            if now - since >= wait:
                out.append(sid)
                if len(out) == at_most:
                    break
        return out

    async def _flush_cards(self, ch: ChannelState, only: list[int] | None = None) -> None:
        """Edit each dirty card to its latest render, then settle the deliveries it covered."""
        for sid in list(ch.dirty) if only is None else only:
            if sid not in ch.dirty:
                continue
            # Taken out first: events arriving during the edit owe a new one.
            events, since = ch.dirty.pop(sid), ch.dirty_at.pop(sid, 0.0)
            patches = ch.dirty_patches.pop(sid, set())
            ch.editing |= events
            try:
                await self._flush_card(ch, sid, events, patches)
            except BaseException:
                ch.dirty.setdefault(sid, set()).update(events)
                ch.dirty_at[sid] = min(since, ch.dirty_at.get(sid, since))
                if patches:
                    ch.dirty_patches.setdefault(sid, set()).update(patches)
                raise
            finally:
                ch.editing -= events

    async def _flush_card(self, ch: ChannelState, sid: int, events: set[int], patches: AbstractSet[str] = frozenset()) -> None:
        # Routing caches each series as of its latest routed event: the card's latest state.
        series = await self.recent.series(sid)
        post = await self.cards.get(sid, ch.channel_id)
        error = None
        if series is not None and post is not None and post.card_message_id is not None:
            links = await self.cards.links(series, ch.channel_id)
            card = render_card(series, links, with_thread=post.thread_id is not None)
            if card.digest() != post.rendered_hash:
                try:
                    await self.sink.edit(ch.channel_id, post.card_message_id, card)
                except (ChannelGone, TransientError):
                    raise
                except PermanentError as err:
                    error = f"card edit: {err}"
                else:
                    # Re-read: the posting loop may have added the thread meanwhile.
                    now = await self.cards.get(sid, ch.channel_id) or post
                    now = await self.cards.save(now.model_copy(update={"rendered_hash": card.digest()}))
                    await self._rename_thread(now, card.thread_name)
        if series is not None and post is not None and patches and error is None:
            await self._edit_patches(ch, series, post, patches)
        if error is None:
            await q.settle_many(self.store, sorted(events), ch.channel_id, "done", attempted=True)
            return
        for event_id in sorted(events):
            d = await self.store.get_delivery(event_id, ch.channel_id)
            if d is not None:
                await self.failures.fail(d, error)

    async def _edit_patches(self, ch: ChannelState, series: SeriesView, post: PostRow, wanted: AbstractSet[str]) -> None:
        """Edit the thread messages of these patches to their latest render: one
        edit per message and flush, none when the render is what was sent. A
        message that cannot be edited (deleted, its thread gone) is logged and
        left: the card still says it all."""
        messages = await posted.patch_messages(self.store, series.series_id, ch.channel_id)
        for patch in series.patches:
            mid = messages.get(patch.message_id)
            if patch.message_id not in wanted or mid is None:
                continue
            where = post.thread_id if post.thread_id is not None and post.thread_id not in ch.dead_threads \
                else ch.channel_id
            rendered = render_patch(series, patch)
            if self.cards.patch_hashes.get((where, mid)) == rendered.digest():
                continue
            try:
                await self.sink.edit(where, mid, rendered)
            except TransientError:
                raise
            except (PermanentError, Forbidden) as err:
                log.warning("channel %s: editing patch message %s failed: %s", ch.channel_id, mid, err)
                continue
            self.cards.patch_hashes.put((where, mid), rendered.digest())

    async def _rename_thread(self, post: PostRow, name: str | None) -> None:
        """Give the post's thread `name` if it has another: e.g. the cover arrived
        after the patches the thread was first named from (the sink reopens an
        archived thread in the same request). The name is recorded only once
        Discord took it, so this holds across restarts; a refusal is logged and
        not asked again by this process (it is cosmetic: nothing fails)."""
        if post.thread_id is None or name is None or post.thread_name == name:
            return
        if (post.thread_id, name) in self._refused_names:
            return
        try:
            await self.sink.rename_thread(post.thread_id, name)
        except (PermanentError, Forbidden) as err:
            log.warning("renaming thread %s to %r failed: %s", post.thread_id, name, err)
            self._refused_names.add((post.thread_id, name))
            return
        await self.cards.save(post.model_copy(update={"thread_name": name}))
