"""`/stats [since]`: mail, series, top contributors and domains, review figures, a weekly chart."""

from __future__ import annotations

import asyncio
import discord
from discord import app_commands
from discord.ext import commands

from bot.config import CommandSettings
from bot.discord import answers, options
from bot.discord.answers import Answer
from bot.discord.cogs.common import Clock, check_limit
from bot.discord.options import UsageError
from bot.discord.ratelimit import UserLimits
from bot.notify import pages
from bot.notify.chart import activity_png
from bot.store import Store
from bot.store import queries

DEFAULT_DAYS = 84  # twelve weeks
CHART = "activity.png"


class Stats(commands.Cog):
    def __init__(self, store: Store, limits: UserLimits, settings: CommandSettings, *, clock: Clock) -> None:
        self.store = store
        self.limits = limits
        self.settings = settings
        self.clock = clock

    @app_commands.command(name="stats", description="List activity: mail, series, contributors, reviews, a chart")
    @app_commands.guild_only()
    @app_commands.describe(since="From: a date (2025-01-01), or back from now (12w); default 12 weeks")
    async def stats(self, interaction: discord.Interaction, since: app_commands.Range[str, 1, 40] | None = None) -> None:
        now = self.clock()
        try:
            start, end = options.window(since, None, now, default_days=DEFAULT_DAYS,
                                        max_days=self.settings.stats_max_days, command="/stats", until_option=False)
            check_limit(self.limits, "/stats", interaction)
        except UsageError as exc:
            await answers.send(interaction, answers.refusal(str(exc)))
            return

        async def work() -> Answer:
            act = await queries.activity(self.store, start, end)
            title = f"kvm list, {start:%Y-%m-%d} to {end:%Y-%m-%d}"
            # Drawing takes CPU (and matplotlib's first import): in a thread, the loop keeps serving.
            png = await asyncio.to_thread(activity_png, pages.weekly(act), title)
            return Answer(pages.stats_page(act, chart=CHART), files=((CHART, png),))

        await answers.respond(interaction, work(), ephemeral=False, defer_after=0)
