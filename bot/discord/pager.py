"""Answers longer than a page: 10 entries at a time, with Previous and Next buttons.

The buttons are discord.py dynamic items: their custom_id carries the answer's
key and the page to show ("kvm:page:<key>:<page><p|n>"), so discord.py keeps
no view per message and a press after a restart still reaches us (and is told
the results expired). What to show lives in the `Pager`, by key, for an hour
(bounded): a page is read again from the store when it is turned to, so it is
current. Only the user who asked turns the pages.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import discord

from bot.discord import answers
from bot.discord.answers import Answer
from bot.notify.models import Post

log = logging.getLogger(__name__)

KEEP = 512
TTL = 3600.0
PREFIX = "kvm:page"


class PageSource(Protocol):
    """Renders page `number` (0-based) of one answer, and says whether another follows."""

    command: str  # "/series search", for what the user is told

    async def page(self, number: int) -> tuple[Post, bool]: ...


@dataclass
class _Kept:
    owner_id: int
    source: PageSource
    at: float


class PageButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=rf"{PREFIX}:(?P<key>[0-9a-f]{{12}}):(?P<page>[0-9]{{1,4}})(?P<way>[pn])"):
    def __init__(self, key: str, page: int, way: str, *, disabled: bool = False) -> None:
        label = "Previous" if way == "p" else "Next"
        super().__init__(
            discord.ui.Button(
                label=label,
                custom_id=f"{PREFIX}:{key}:{page}{way}",
                style=discord.ButtonStyle.secondary,
                disabled=disabled,
            )
        )
        self.key, self.page = key, page

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PageButton:
        return cls(match["key"], int(match["page"]), match["way"])

    async def callback(self, interaction: discord.Interaction) -> Any:
        from bot.discord.client import PatchBot  # the client imports this module

        client = interaction.client
        if isinstance(client, PatchBot):
            await client.pager.turn(interaction, self.key, self.page)


class Pager:
    """The paged answers being read, by key."""

    def __init__(self, *, defer_after: float, keep: int = KEEP, ttl: float = TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.defer_after = defer_after
        self.keep_max, self.ttl, self._clock = keep, ttl, clock
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    def _keep(self, owner_id: int, source: PageSource) -> str:
        key = secrets.token_hex(6)
        self._kept[key] = _Kept(owner_id, source, self._clock())
        while len(self._kept) > self.keep_max:
            self._kept.popitem(last=False)
        return key

    def _get(self, key: str) -> _Kept | None:
        kept = self._kept.get(key)
        if kept is None or self._clock() - kept.at > self.ttl:
            self._kept.pop(key, None)
            return None
        self._kept.move_to_end(key)
        return kept

    @staticmethod
    def view(key: str, page: int, has_next: bool) -> discord.ui.View | None:
        if page == 0 and not has_next:
            return None
        view = discord.ui.View(timeout=None)
        view.add_item(PageButton(key, max(page - 1, 0), "p", disabled=page == 0))
        view.add_item(PageButton(key, page + 1, "n", disabled=not has_next))
        return view

    async def first(self, owner_id: int, source: PageSource, *, ephemeral: bool = False) -> Answer:
        post, has_next = await source.page(0)
        key = self._keep(owner_id, source) if has_next else ""
        return Answer(post, ephemeral=ephemeral, view=self.view(key, 0, has_next) if has_next else None)

    async def turn(self, interaction: discord.Interaction, key: str, page: int) -> None:
        kept = self._get(key)
        if kept is None:
            await answers.send(interaction, answers.refusal(
                "These results have expired (they are kept for an hour, and not across a restart "
                "of the bot): ask again to get fresh ones."))
            return
        if interaction.user.id != kept.owner_id:
            await answers.send(interaction, answers.refusal(
                f"Only the person who asked can turn these pages: run {kept.source.command} yourself."))
            return

        async def render() -> Answer:
            post, has_next = await kept.source.page(page)
            return Answer(post, view=self.view(key, page, has_next) or discord.ui.View(timeout=None))

        try:
            await answers.update(interaction, render(), defer_after=self.defer_after)
        except Exception:  # a button has no command tree to report for it
            log.exception("turning to page %d of %s failed", page + 1, kept.source.command)
            try:
                await answers.send(interaction, answers.refusal(answers.OOPS))
            except discord.HTTPException as exc:
                log.warning("could not report the failure to the user: %s", exc)
