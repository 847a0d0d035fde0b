"""`/series search|show|versions`: find a series, see its card, follow its versions."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import CommandSettings
from bot.discord import answers, options
from bot.discord.answers import Answer
from bot.discord.cogs.common import check_limit, guild_of, posted_cards
from bot.discord.options import SeriesRef, UsageError
from bot.discord.pager import Pager
from bot.discord.ratelimit import UserLimits
from bot.notify import pages
from bot.notify.models import Post
from bot.notify.text import shorten_plain
from bot.series.models import SeriesView
from bot.store import Store
from bot.store import queries

CHOICES_MAX = 25  # autocomplete: "max of 25 choices"
CHOICE_NAME_MAX = 100


@dataclass
class SearchSource:
    """The pages of one search, each read from the store when shown."""

    store: Store
    search: queries.SeriesSearch
    command: str = "/series search"

    async def page(self, number: int) -> tuple[Post, bool]:
        per = pages.PER_PAGE
        views = await queries.search_series(self.store, self.search, limit=per + 1, offset=number * per)
        has_next = len(views) > per
        return pages.search_page(self.search, views[:per], number, has_next), has_next


async def find(store: Store, ref: SeriesRef) -> SeriesView:
    if ref.series_id is not None:
        view = await store.get_series(ref.series_id)
        if view is None:
            raise UsageError(f"There is no series #{ref.series_id}: /series search finds series by their titles.")
        return view
    view = await queries.series_by_message(store, ref.message_id or "")
    if view is None:
        raise UsageError("No stored series has that Message-ID (a cover letter, a patch or a reply in one): "
                         "check it, or /series search by title.")
    return view


@app_commands.guild_only()
class Series(commands.GroupCog, group_name="series", group_description="Find patch series and their versions"):
    def __init__(self, store: Store, pager: Pager, limits: UserLimits, settings: CommandSettings) -> None:
        self.store = store
        self.pager = pager
        self.limits = limits
        self.settings = settings
        super().__init__()

    async def _run(self, interaction: discord.Interaction, work: Awaitable[Answer]) -> None:
        await answers.respond(interaction, work, ephemeral=False, defer_after=self.settings.defer_after_seconds)

    @app_commands.command(name="search", description="Series whose titles hold these words, newest first")
    @app_commands.describe(
        query="Words of the title, each the start of a word: pir harvest",
        author="A name, part of an address, or @domain",
        subsystem="Subsystem prefixes or globs, comma-separated: KVM: x86, KVM: *VMX*",
        state="open (not applied, not superseded), applied, superseded, or all (default)",
    )
    async def search(
        self,
        interaction: discord.Interaction,
        query: app_commands.Range[str, 1, 100],
        author: app_commands.Range[str, 2, 100] | None = None,
        subsystem: app_commands.Range[str, 1, 300] | None = None,
        state: Literal["open", "applied", "superseded", "all"] = "all",
    ) -> None:
        async def work() -> Answer:
            search = queries.SeriesSearch(
                words=options.words(query, "query"),
                author=options.author(author) if author else None,
                subsystems=tuple(options.subsystems(subsystem)) if subsystem else (),
                state=state,
            )
            check_limit(self.limits, "/series search", interaction)
            return await self.pager.first(interaction.user.id, SearchSource(self.store, search))

        await self._run(interaction, work())

    @app_commands.command(name="show", description="A series' card, and where it was posted here")
    @app_commands.describe(series="A series number (#123), a Message-ID, or a lore link; or type title words")
    async def show(self, interaction: discord.Interaction, series: app_commands.Range[str, 1, 500]) -> None:
        async def work() -> Answer:
            view = await find(self.store, options.series_ref(series))
            lineage = await queries.lineage_of(self.store, view.lineage_id)
            posted = await posted_cards(self.store, guild_of(interaction), [view.series_id])
            return Answer(pages.series_answer(view, lineage, posted.get(view.series_id, [])))

        await self._run(interaction, work())

    @app_commands.command(name="versions", description="Every version of a series, oldest first, each linked")
    @app_commands.describe(series="A series number (#123), a Message-ID, or a lore link; or type title words")
    async def versions(self, interaction: discord.Interaction, series: app_commands.Range[str, 1, 500]) -> None:
        async def work() -> Answer:
            view = await find(self.store, options.series_ref(series))
            lineage = await queries.lineage_of(self.store, view.lineage_id)
            posted = await posted_cards(self.store, guild_of(interaction), [v.series_id for v in lineage])
            return Answer(pages.versions_page(view, lineage, {sid: urls[0] for sid, urls in posted.items()}))

        await self._run(interaction, work())

    @show.autocomplete("series")
    @versions.autocomplete("series")
    async def series_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        """The newest series whose titles start words with what is typed (a number: that series first)."""
        hits = await queries.series_titles(self.store, current[:100], limit=CHOICES_MAX)
        return [
            app_commands.Choice(name=shorten_plain(f"#{h.series_id} {h.version} {h.title}", CHOICE_NAME_MAX),
                                value=str(h.series_id))
            for h in hits
        ][:CHOICES_MAX]
