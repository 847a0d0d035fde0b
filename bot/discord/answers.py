"""Answering an interaction within Discord's 3 seconds, whatever the work costs.

Discord drops an interaction (10062 Unknown interaction) whose first answer
comes later than 3 seconds after it was sent; a deferral ("thinking...")
answers in time and leaves 15 minutes for the real answer (discord-api-docs,
receiving-and-responding.mdx, "Interaction Callback"). `respond` starts the
work and answers directly when it is ready within `defer_after` seconds,
else defers first. Whether an answer is ephemeral is fixed by the deferral,
so an ephemeral answer after a public deferral (an error) replaces the
"thinking..." message instead of editing it into view.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import discord

from bot.discord.options import UsageError
from bot.discord.sender import to_discord_embed
from bot.notify import pages
from bot.notify.models import Post

log = logging.getLogger(__name__)

UNKNOWN_INTERACTION = 10062
OOPS = (
    "Something went wrong on the bot's side (it is logged). Try again in a minute; "
    "if it keeps failing, tell the people who run kvm-patchbot."
)


@dataclass
class Answer:
    """What a command answers: a post, files, and a view (page buttons)."""

    post: Post
    ephemeral: bool = False
    files: tuple[tuple[str, bytes], ...] = ()  # (filename, data)
    view: discord.ui.View | None = None

    def message(self) -> dict[str, Any]:
        out: dict[str, Any] = {"embeds": [to_discord_embed(e) for e in self.post.embeds]}
        if self.post.content:
            out["content"] = self.post.content
        if self.files:
            out["files"] = [discord.File(io.BytesIO(data), filename=name) for name, data in self.files]
        if self.view is not None:
            out["view"] = self.view
        return out


def refusal(message: str) -> Answer:
    """An ephemeral error answer that says what to do."""
    return Answer(pages.error(message), ephemeral=True)


async def send(interaction: discord.Interaction, answer: Answer) -> None:
    """Answer, or follow up a deferral; an ephemeral answer never lands in a public "thinking"."""
    kwargs = answer.message()
    if not interaction.response.is_done():
        await interaction.response.send_message(ephemeral=answer.ephemeral, **kwargs)
        return
    if answer.ephemeral and not _deferred_ephemeral(interaction):
        try:
            await interaction.delete_original_response()
        except discord.NotFound:
            pass
    await interaction.followup.send(ephemeral=answer.ephemeral, **kwargs)


def _deferred_ephemeral(interaction: discord.Interaction) -> bool:
    return bool(interaction.extras.get("deferred_ephemeral", False))


async def defer(interaction: discord.Interaction, *, ephemeral: bool) -> None:
    if not interaction.response.is_done():
        interaction.extras["deferred_ephemeral"] = ephemeral
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)


async def respond(
    interaction: discord.Interaction,
    work: Awaitable[Answer],
    *,
    ephemeral: bool,
    defer_after: float,
) -> None:
    """Run `work`; answer at once if it is done within `defer_after` seconds, else defer first.

    `ephemeral` is what the answer will be (the deferral must say so in advance).
    A `UsageError` from the work is answered ephemerally; anything else is
    logged and answered with an apology."""
    task = asyncio.ensure_future(work)
    try:
        if defer_after > 0:
            await asyncio.wait({task}, timeout=defer_after)
        if not task.done():
            await defer(interaction, ephemeral=ephemeral)
        try:
            answer = await task
        except UsageError as exc:
            answer = refusal(str(exc))
        await send(interaction, answer)
    except discord.NotFound as exc:
        if exc.code == UNKNOWN_INTERACTION:
            # Answered too late (the event loop was held up, or Discord was slow to deliver).
            log.warning("interaction %s expired before it was answered", interaction.id)
            return
        raise
    finally:
        if not task.done():
            task.cancel()


async def update(
    interaction: discord.Interaction, work: Awaitable[Answer], *, defer_after: float
) -> None:
    """A button press: edit the message it is on (UPDATE_MESSAGE), deferring (DEFERRED_UPDATE)
    when the new page takes longer than `defer_after`."""
    task = asyncio.ensure_future(work)
    try:
        if defer_after > 0:
            await asyncio.wait({task}, timeout=defer_after)
        if not task.done():
            await interaction.response.defer()
        answer = await task
        kwargs = answer.message()
        kwargs.pop("files", None)
        if interaction.response.is_done():
            await interaction.edit_original_response(**kwargs)
        else:
            await interaction.response.edit_message(**kwargs)
    finally:
        if not task.done():
            task.cancel()
