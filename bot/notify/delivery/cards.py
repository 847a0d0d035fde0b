"""A series' card in a channel: its stored post row (card and thread ids, the
last render's hash, the thread's name) and the links between versions' cards."""

from __future__ import annotations

from bot.notify.delivery.cache import Lru, Recent
from bot.notify.delivery.routing import Subscriptions
from bot.notify.render import CardLinks, VersionLink, series_message_id, series_url, version_label
from bot.notify.sink import Sink
from bot.series.models import SeriesView
from bot.store import PostRow, Store


# How far `b4 am`'s "latest version" is looked for along a lineage.
MAX_VERSIONS = 64


class Cards:
    def __init__(self, store: Store, sink: Sink, subscriptions: Subscriptions, recent: Recent) -> None:
        self.store = store
        self.sink = sink
        self.subscriptions = subscriptions
        self.recent = recent
        # Read-through: this worker is the only writer of posts.
        self._posts: Lru[tuple[int, int], PostRow] = Lru()
        # (channel or thread, message id) -> hash of the patch message's last
        # render: an edit that changes nothing is not sent (after a restart
        # the first owed edit of each message is sent once).
        self.patch_hashes: Lru[tuple[int, int], str] = Lru()

    async def get(self, series_id: int, channel_id: int) -> PostRow | None:
        post = self._posts.get((series_id, channel_id))
        if post is None:
            post = await self.store.get_post(series_id, channel_id)
            if post is not None:
                self._posts.put((series_id, channel_id), post)
        return post

    async def save(self, post: PostRow) -> PostRow:
        await self.store.save_post(
            post.series_id, post.channel_id, card_message_id=post.card_message_id,
            thread_id=post.thread_id, rendered_hash=post.rendered_hash, thread_name=post.thread_name,
            removals=post.removals,
        )
        self._posts.put((post.series_id, post.channel_id), post)
        return post

    def keep(self, post: PostRow) -> None:
        """A post row the store now holds (written by someone else: `posted.take_down`)."""
        self._posts.put((post.series_id, post.channel_id), post)

    async def links(self, series: SeriesView, channel_id: int) -> CardLinks:
        """The previous, next and latest versions, linked to their cards in this channel where posted."""
        prev = await self._version_link(series.supersedes, channel_id) if series.supersedes else None
        succ = await self._version_link(series.superseded_by, channel_id) if series.superseded_by else None
        latest = await self._latest(series)
        if latest is None:
            return CardLinks(previous=prev, superseded_by=succ)
        return CardLinks(
            previous=prev, superseded_by=succ,
            latest=await self._version_link(latest.series_id, channel_id),
            latest_message_id=series_message_id(latest),
        )

    async def _latest(self, series: SeriesView) -> SeriesView | None:
        """The newest version after this one (None: this is the newest)."""
        cur, seen = series, {series.series_id}
        while cur.superseded_by is not None and cur.superseded_by not in seen and len(seen) <= MAX_VERSIONS:
            nxt = await self.recent.series(cur.superseded_by)
            if nxt is None:
                break
            seen.add(nxt.series_id)
            cur = nxt
        return None if cur is series else cur

    async def _version_link(self, series_id: int, channel_id: int) -> VersionLink | None:
        other = await self.recent.series(series_id)
        if other is None:
            return None
        post = await self.get(series_id, channel_id)
        url = None
        if post is not None and post.card_message_id is not None:
            guild = self.subscriptions.guild_of(channel_id)
            url = self.sink.message_url(guild, channel_id, post.card_message_id)
        return VersionLink(version=version_label(other), url=url or series_url(other))
