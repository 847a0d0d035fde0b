"""Taking a series' card down from a channel it no longer matches.

Routing is re-evaluated as a series grows: a late cover letter can change
its subsystem (the cover's wins over its patches' vote), so a card posted
in a `--subsystem "KVM: SVM"` channel after the settle window may turn out
to be an x86 series. Routing (`routing.Router`) then queues a delivery of
the event that changed it to that channel, ordered with the channel's other
deliveries like any post, and the channel's poster (the process holding the
channel's claim, on PostgreSQL) takes the card down here:

1. it reads the series again from the store: if it matches the channel now
   after all, nothing is removed and the delivery is made as usual;
2. it deletes the card's thread, with every message in it (Manage Threads),
   then any patch posted under the card instead of in the thread, then the
   card itself. Each deletion is safe to repeat (what is gone already is no
   error), so a restart or a Discord fault mid-way repeats the whole step;
3. it records, in one transaction, that nothing of the series is posted in
   the channel any more (`bot.store.posted.take_down`): the post keeps no
   message ids, and the series' deliveries there are `removed`;
4. if the series matches the channel again by then, it is owed everything
   again at once (routing does the same whenever it routes the series here
   later): a new card, thread and every patch, under nonces of their own.

Only a channel that still has a subscription loses a card: unsubscribing
removes nothing that was posted. A stable alert stays where it was posted:
it is about one patch, whose stable request the cover did not change, and it
has pinged its role already; deleting it would leave those pinged looking for
a message that is gone, and matching again would ping them a second time for
the same fix. Alerts not yet sent are not sent (routing decides them when
they are delivered, like every post).

Without Manage Threads the bot cannot delete the thread. It is the thread's
creator, though, so it deletes its own messages in it one by one (own
messages need no Manage Messages) and archives it, then deletes the card:
what is left is an empty, archived thread that no longer shows in the
channel's active threads, rather than a thread of patches under no card.
"""

from __future__ import annotations

import logging

from bot.notify.delivery.cache import Recent
from bot.notify.delivery.cards import Cards
from bot.notify.delivery.routing import Router, Subscriptions
from bot.notify.delivery.state import ChannelState
from bot.notify.models import Target
from bot.notify.sink import ChannelGone, Forbidden, PermanentError, Sink
from bot.series.models import Event, SeriesView
from bot.store import DeliveryRow, PostRow, Store
from bot.store import delivery as q
from bot.store import posted

log = logging.getLogger(__name__)

REASON = "card removed: the series no longer matches this channel"


def again(post: PostRow | None) -> tuple[int, ...]:
    """What a nonce adds after the card was taken down: Discord answers a
    nonce reused within minutes with the first message, or 10008 once that
    was deleted, so a card posted again needs nonces of its own."""
    return () if post is None or post.removals == 0 else (post.removals,)


class Takedown:
    def __init__(
        self, store: Store, sink: Sink, subscriptions: Subscriptions, recent: Recent, cards: Cards, router: Router
    ) -> None:
        self.store = store
        self.sink = sink
        self.subscriptions = subscriptions
        self.recent = recent
        self.cards = cards
        self.router = router

    async def due(self, series: SeriesView, target: Target | None, channel_id: int) -> bool:
        """Whether a delivery here finds the series' card posted where it no longer goes."""
        if target is not None and target.card:
            return False
        if channel_id not in self.subscriptions.card_channels():
            return False  # unsubscribed: what was posted stays
        post = await self.cards.get(series.series_id, channel_id)
        return post is not None and (post.card_message_id is not None or post.thread_id is not None)

    async def run(
        self, ch: ChannelState, d: DeliveryRow, event: Event, series: SeriesView
    ) -> tuple[SeriesView, Target | None, bool]:
        """Take the card down unless the series (read again) matches after all.
        Returns the series, what the delivery still asks of the channel (an
        alert, or the whole post if it matched), and whether it was removed."""
        sid, cid = series.series_id, ch.channel_id
        fresh = await self.store.get_series(sid) or series
        self.recent.keep_series(sid, fresh)
        target = self.subscriptions.target(event, fresh, cid)
        if target is not None and target.card:
            return fresh, target, False
        post = await self.cards.get(sid, cid)
        if post is None:
            return fresh, target, False
        log.info("channel %s: series %s no longer matches here (event %s): taking its card down",
                 cid, sid, d.event_id)
        await self._delete(ch, post)
        self.cards.keep(await posted.take_down(self.store, post, REASON))
        self._forget(ch, sid)
        await self._owed_again(ch, sid)
        return fresh, target, True

    async def _delete(self, ch: ChannelState, post: PostRow) -> None:
        cid, thread = post.channel_id, post.thread_id
        messages = await posted.series_messages(self.store, post.series_id, cid)
        # Rows from before `posted_in` was kept: in the thread if there is one.
        in_thread = [m for m, where in messages if thread is not None and where in (thread, None)]
        in_channel = [m for m, where in messages if where == cid or (where is None and thread is None)]
        if thread is not None and thread not in ch.dead_threads:
            try:
                await self.sink.delete_thread(thread)  # its messages go with it
            except Forbidden as err:
                if err.no_access:
                    raise  # the channel itself: park it
                await self._empty_thread(cid, thread, in_thread, err)
            except PermanentError as err:  # nothing else is known to refuse it; the card goes anyway
                await self._empty_thread(cid, thread, in_thread, err)
        for mid in in_channel:
            await self._delete_one(cid, mid)
        if post.card_message_id is not None:
            await self._delete_one(cid, post.card_message_id)

    async def _empty_thread(self, cid: int, thread: int, messages: list[int], why: Exception) -> None:
        """The fallback without Manage Threads (see the module's docstring)."""
        log.warning("channel %s: cannot delete thread %s (%s): deleting our messages in it and archiving it",
                    cid, thread, why)
        try:
            for mid in messages:
                await self._delete_one(thread, mid)
            await self.sink.archive_thread(thread)
        except ChannelGone:
            return  # someone deleted the thread meanwhile: nothing of ours is left in it
        except (PermanentError, Forbidden) as err:  # e.g. a moderator locked it: the card goes anyway
            log.warning("channel %s: emptying thread %s failed: %s", cid, thread, err)

    async def _delete_one(self, where: int, message_id: int) -> None:
        try:
            await self.sink.delete_message(where, message_id)
        except Forbidden as err:
            if err.no_access:
                raise
            log.warning("deleting message %s in %s failed: %s", message_id, where, err)
        except ChannelGone:
            raise
        except PermanentError as err:
            log.warning("deleting message %s in %s failed: %s", message_id, where, err)

    @staticmethod
    def _forget(ch: ChannelState, series_id: int) -> None:
        """Nothing of the series is posted here now: no edit owed, no patch slot posted."""
        ch.dirty.pop(series_id, None)
        ch.dirty_at.pop(series_id, None)
        ch.dirty_patches.pop(series_id, None)
        ch.posted_slots.pop(series_id, None)
        ch.held_back.clear()

    async def _owed_again(self, ch: ChannelState, series_id: int) -> None:
        """The series may match the channel again already (routed meanwhile,
        maybe by another process, before the removal was recorded): then it
        is owed everything again, as routing would queue it."""
        self.router.forget(series_id, ch.channel_id)
        now = await self.store.get_series(series_id)
        if now is None:
            return
        rows = await self.router.owed(now, ch.channel_id)
        if rows:
            self.recent.keep_series(series_id, now)
            await q.queue_again(self.store, rows)
            ch.nudge.set()
