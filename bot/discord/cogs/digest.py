"""`/digest [since] [until]`: the mailing-list digest of a window, as a text attachment.

The digest itself is built above this stage (`bot.digest`, which reads the
store as the CLI does); the bot gets a `DigestMaker` through its constructor.
Building one re-reads every mail of the window (about half a second for a
month), so the command always defers first, the window is bounded, and each
user may ask only so often.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

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

DEFAULT_DAYS = 7
UPLOAD_MAX = 8 * 1024 * 1024  # under Discord's 10 MiB default, with room for the request around it


class DigestMaker(Protocol):
    async def __call__(self, since: datetime, until: datetime) -> str:
        """The digest of the mails dated `since` <= Date < `until`."""
        ...


def _day(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC")


class Digest(commands.Cog):
    def __init__(self, maker: DigestMaker, limits: UserLimits, settings: CommandSettings, *, clock: Clock) -> None:
        self.maker = maker
        self.limits = limits
        self.settings = settings
        self.clock = clock

    @app_commands.command(name="digest", description="The mailing list digest of a window, as a text file")
    @app_commands.guild_only()
    @app_commands.describe(
        since="From: a date (2025-03-10), a date and time (2025-03-10T08:00), or back from now (7d); default 7d",
        until="To (not included): same forms; default now",
    )
    async def digest(
        self,
        interaction: discord.Interaction,
        since: app_commands.Range[str, 1, 40] | None = None,
        until: app_commands.Range[str, 1, 40] | None = None,
    ) -> None:
        now = self.clock()
        try:
            start, end = options.window(since, until, now, default_days=DEFAULT_DAYS,
                                        max_days=self.settings.digest_max_days, command="/digest")
            check_limit(self.limits, "/digest", interaction)
        except UsageError as exc:
            await answers.send(interaction, answers.refusal(str(exc)))
            return

        async def work() -> Answer:
            text = await self.maker(start, end)
            data = text.encode("utf-8")
            if len(data) > UPLOAD_MAX:
                raise UsageError("That digest is too big to attach: ask for a shorter window.")
            name = f"kvm-digest-{start:%Y%m%d}-{end:%Y%m%d}.txt"
            post = pages.notice(f"KVM mailing list update, {_day(start)} to {_day(end)}: attached.")
            return Answer(post, files=((name, data),))

        # Always expensive: "thinking..." at once rather than after the usual wait.
        await answers.respond(interaction, work(), ephemeral=False, defer_after=0)
