"""Sends that happen once, even past Discord's nonce window.

A create carries a nonce, and Discord returns the first message for a repeated
nonce, but only for "the past few minutes". When a send's outcome is unknown
(the process died mid-send, the answer was lost, or the store could not record
it) and the retry comes later than that, the nonce no longer helps: before
sending again, look in the channel for our own message with the post's footer
(which names what a post is: the card of series N, patch k/N, an alert) and
adopt it if it is there.

Only when the outcome may be unknown: at a channel's first send after start
and after a failed try (`ChannelState.verify`), so steady delivery costs no
extra request.
"""

from __future__ import annotations

import hashlib
import logging

from bot.notify.delivery.state import ChannelState
from bot.notify.models import Post
from bot.notify.sink import Sink

log = logging.getLogger(__name__)


def nonce(*parts: object) -> str:
    """Discord nonces are at most 25 characters: a hash of what makes a post unique."""
    return hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:25]


def marker(post: Post) -> str | None:
    """What identifies the post among ours in a channel: its first embed's footer."""
    return post.embeds[0].footer if post.embeds and post.embeds[0].footer else None


class OnceSender:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def send(
        self, ch: ChannelState, where: int, post: Post, *, nonce: str, reply_to: int | None = None
    ) -> int:
        footer = marker(post)
        if ch.verify and footer is not None:
            found = await self.sink.find_own(where, footer)
            if found is not None:
                log.info("channel %s: %r is already posted (message %s): adopted, not sent again",
                         where, footer, found)
                return found
        return await self.sink.send(where, post, nonce=nonce, reply_to=reply_to)
