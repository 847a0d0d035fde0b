"""Typed posts and delivery targets, independent of discord.py.

A `Post` is what one Discord message would carry: `discord.embeds` are plain
data here so the preview writer, the tests and the Discord sender all read the
same thing.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel, ConfigDict

from bot.config import SubscriptionFilter


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmbedField(_Frozen):
    name: str
    value: str
    inline: bool = False


class Embed(_Frozen):
    title: str | None = None
    url: str | None = None
    description: str | None = None
    color: int | None = None
    author: str | None = None
    fields: tuple[EmbedField, ...] = ()
    footer: str | None = None


class Post(_Frozen):
    """One message: content, embeds, the only role it may mention, a thread name."""

    content: str = ""
    embeds: tuple[Embed, ...] = ()
    # The role ids this message may ping (stable alerts only); everything else is inert.
    mention_role_ids: tuple[int, ...] = ()
    # For a card that starts a thread: the thread's name.
    thread_name: str | None = None

    def digest(self) -> str:
        """Stable hash of what Discord would show: unchanged hash, no edit needed."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


class Target(_Frozen):
    """What one event asks of one channel; targets for the same channel merge.

    The store keeps one delivery per (event, channel), so a channel that is both
    a subscription's channel and an alert channel gets one target doing both.
    """

    channel_id: int
    subscription_id: int | None = None
    card: bool = False  # post the series card, or edit it to the latest state
    threads: bool = False  # the card gets a thread for per-patch messages
    patch: bool = False  # post the event's patch in the series thread
    alert: bool = False  # a stable alert: the only post that may mention a role
    alert_role_id: int | None = None

    def merge(self, other: Target) -> Target:
        return Target(
            channel_id=self.channel_id,
            subscription_id=self.subscription_id if self.subscription_id is not None else other.subscription_id,
            card=self.card or other.card,
            threads=self.threads or other.threads,
            patch=self.patch or other.patch,
            alert=self.alert or other.alert,
            alert_role_id=self.alert_role_id if self.alert_role_id is not None else other.alert_role_id,
        )


class Subscription(_Frozen):
    """An enabled subscription as routing sees it (stored rows or the preview default)."""

    id: int | None = None
    guild_id: int = 0
    channel_id: int
    filter: SubscriptionFilter = SubscriptionFilter()
    threads: bool = True
    single_threads: bool = False  # a thread even for a single patch
    alert_channel_id: int | None = None
    alert_role_id: int | None = None
