"""Preview mode: the posts the bot would make, as readable text and as JSONL.

Used when no Discord token is configured. It is a `Sink` like Discord: the
same routing, rendering and exactly-once bookkeeping run in front of it, so
what it prints is what Discord would get. Message ids are snowflake-like
(time-based), so they stay unique across restarts; a thread's id is its
starter message's id, as on Discord.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from bot.notify.models import Post
from bot.notify.text import unescape


def readable(text: str) -> str:
    """The escapes `bot.notify.text.escape` adds, removed again for reading on a console."""
    return unescape(text)


def post_text(post: Post) -> list[str]:
    """A post as console lines (JSONL keeps the exact text; the console reads easier)."""
    return [readable(line) for line in _lines(post)]


def _lines(post: Post) -> list[str]:
    lines: list[str] = []
    if post.content:
        lines.append(post.content)
    for e in post.embeds:
        if e.title:
            lines.append(e.title)
        if e.url:
            lines.append(f"  <{e.url}>")
        if e.description:
            lines += [f"  {line}" for line in e.description.splitlines()]
        for f in e.fields:
            value = f.value.replace("\n", "\n    ")
            lines.append(f"  {f.name}: {value}")
        if e.footer:
            lines.append(f"  -- {e.footer}")
    return lines


class PreviewSink:
    def __init__(self, path: Path | None, stream: IO[str] | None = None) -> None:
        self.path = path
        self.stream = stream if stream is not None else sys.stdout
        self._counter = itertools.count()
        self._last = 0
        self._threads: dict[int, int] = {}  # thread id -> parent channel
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def _next_id(self) -> int:
        stamp = int(time.time() * 1000) << 22 | (next(self._counter) & 0x3FFFFF)
        self._last = max(stamp, self._last + 1)
        return self._last

    def _write(self, action: str, channel_id: int, message_id: int, post: Post | None, **extra: object) -> None:
        record = {
            "time": datetime.now(timezone.utc).isoformat(),
            "action": action,
            "channel_id": channel_id,
            "message_id": message_id,
            **extra,
            "post": post.model_dump(mode="json") if post is not None else None,
        }
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        where = f"thread {channel_id}" if channel_id in self._threads else f"channel {channel_id}"
        head = {
            "send": f"== {where}: new message {message_id}"
            + (f" (reply to {extra['reply_to']})" if "reply_to" in extra else ""),
            "edit": f"== {where}: message {message_id} edited",
            "thread": f"== {where}: thread {message_id} started: {extra.get('name')}",
            "rename": f"== thread {message_id} renamed: {extra.get('name')}",
            "delete": f"== {where}: message {message_id} deleted (the series no longer matches here)",
            "delete_thread": f"== thread {message_id} deleted, with its messages (the series no longer matches here)",
            "archive": f"== thread {message_id} archived",
        }[action]
        body = post_text(post) if post is not None else []
        self.stream.write("\n".join([head, *body]) + "\n")
        self.stream.flush()

    async def send(self, channel_id: int, post: Post, *, nonce: str, reply_to: int | None = None) -> int:
        message_id = self._next_id()
        extra: dict[str, object] = {"nonce": nonce}
        if reply_to is not None:
            extra["reply_to"] = reply_to
        self._write("send", channel_id, message_id, post, **extra)
        return message_id

    async def find_own(self, channel_id: int, footer: str) -> int | None:
        return None  # the preview writes and forgets: a resend is only a repeated line

    async def edit(self, channel_id: int, message_id: int, post: Post) -> None:
        self._write("edit", channel_id, message_id, post)

    async def start_thread(self, channel_id: int, message_id: int, name: str) -> int:
        self._threads[message_id] = channel_id
        self._write("thread", channel_id, message_id, None, name=name)
        return message_id

    async def rename_thread(self, thread_id: int, name: str) -> None:
        self._write("rename", thread_id, thread_id, None, name=name)

    async def delete_message(self, channel_id: int, message_id: int) -> bool:
        self._write("delete", channel_id, message_id, None)
        return True

    async def delete_thread(self, thread_id: int) -> bool:
        self._write("delete_thread", thread_id, thread_id, None)
        self._threads.pop(thread_id, None)
        return True

    async def archive_thread(self, thread_id: int) -> None:
        self._write("archive", thread_id, thread_id, None)

    def message_url(self, guild_id: int | None, channel_id: int, message_id: int) -> str | None:
        return None
