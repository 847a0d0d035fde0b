"""`/subscribe`, `/unsubscribe`, `/subscriptions`: which channels get which series.

Changing subscriptions needs Manage Channels, checked here and not only by
Discord's `default_member_permissions`, which a server's admins can change
(discord-facts.md): in the channel the command runs in, and in each channel
named. A guild sees and changes only its own subscriptions. Every answer is
ephemeral: it is the member's business, not the channel's.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta
from typing import Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.config import CommandSettings, SubscriptionConfig, SubscriptionFilter
from bot.discord import answers, options
from bot.discord.answers import Answer
from bot.discord.cogs.common import Clock, guild_of
from bot.discord.options import UsageError
from bot.notify import pages
from bot.notify.filters import matches
from bot.notify.text import shorten_plain
from bot.store import Store
from bot.store import queries

MATCH_DAYS = 30
Kind = Literal["all", "series", "single", "fixes", "stable", "pull", "backport"]
CHOICE_NAME_MAX = 100  # an autocomplete choice's name: 1-100 characters


def _check_manage(interaction: discord.Interaction, *named: app_commands.AppCommandChannel | None) -> None:
    if not interaction.permissions.manage_channels:
        raise UsageError("Changing subscriptions needs the Manage Channels permission in this channel; "
                         "ask a moderator, or /subscriptions to see what is set up.")
    for channel in named:
        # A resolved channel carries the member's permissions in it.
        if channel is not None and not channel.permissions.manage_channels:
            raise UsageError(f"You need Manage Channels in <#{channel.id}> to send cards there.")


def _role_pings(interaction: discord.Interaction, role: discord.Role, channel_id: int | None) -> bool:
    """Does mentioning `role` in the alert channel notify its members? Only if
    the role is mentionable or the bot has MENTION_EVERYONE there
    (discord-api-docs permissions.mdx); unknown (no cache) counts as yes."""
    if role.mentionable:
        return True
    guild = interaction.guild
    channel = guild.get_channel(channel_id) if guild is not None and channel_id is not None else None
    if guild is None or channel is None:
        return True
    return channel.permissions_for(guild.me).mention_everyone


def build_filter(*, subsystem: str | None, path: str | None, author: str | None, title: str | None,
                 kind: Kind, rfc: bool) -> SubscriptionFilter:
    return SubscriptionFilter(
        subsystems=options.subsystems(subsystem) if subsystem else [],
        paths=options.paths(path) if path else [],
        authors=[options.author(author)] if author else [],
        title_words=list(options.words(title, "title")) if title else [],
        kinds=[kind] if kind in ("series", "single", "pull", "backport") else [],
        fixes_only=kind == "fixes",
        stable_only=kind == "stable",
        rfc=None if rfc else False,
    )


def _resolved(interaction: discord.Interaction, name: str) -> app_commands.AppCommandChannel | None:
    value = interaction.namespace[name] if name in interaction.namespace else None
    return value if isinstance(value, app_commands.AppCommandChannel) else None


class Subscriptions(commands.Cog):
    def __init__(self, store: Store, settings: CommandSettings, *, clock: Clock) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def _run(self, interaction: discord.Interaction, work: Awaitable[Answer]) -> None:
        await answers.respond(interaction, work, ephemeral=True, defer_after=self.settings.defer_after_seconds)

    @app_commands.command(name="subscribe", description="Post cards for the series matching a filter in a channel")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_channels=True)
    @app_commands.describe(
        channel="Where the cards go (default: here)",
        subsystem="Subsystem prefixes or globs, comma-separated: KVM: x86, KVM: *VMX*",
        path="Files the series touches, globs, comma-separated: arch/x86/kvm/*, virt/kvm/",
        author="A name, part of an address, or @domain",
        title="Words the title must hold (each the start of a word): pir harvest",
        kind="Which: all, multi-patch series, single patches, fixes, stable requests, pull requests, backports",
        rfc="Include RFC postings (default: yes)",
        threads="A thread per series with a message per patch (default: yes)",
        single_threads="A thread for a single patch too (default: no, its card says it all)",
        alert_channel="Also post stable alerts here",
        alert_role="The role stable alerts mention (the only mention the bot makes)",
    )
    async def subscribe(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
        subsystem: app_commands.Range[str, 1, 300] | None = None,
        path: app_commands.Range[str, 1, 300] | None = None,
        author: app_commands.Range[str, 2, 100] | None = None,
        title: app_commands.Range[str, 1, 100] | None = None,
        kind: Kind = "all",
        rfc: bool = True,
        threads: bool = True,
        single_threads: bool = False,
        alert_channel: discord.TextChannel | None = None,
        alert_role: discord.Role | None = None,
    ) -> None:
        async def work() -> Answer:
            guild = guild_of(interaction)
            _check_manage(interaction, _resolved(interaction, "channel"), _resolved(interaction, "alert_channel"))
            if alert_role is not None and alert_channel is None:
                raise UsageError("`alert_role` is mentioned in stable alerts: give an `alert_channel` for them too.")
            target = channel.id if channel is not None else interaction.channel_id
            if target is None:
                raise UsageError("Name a `channel` for the cards.")
            flt = build_filter(subsystem=subsystem, path=path, author=author, title=title, kind=kind, rfc=rfc)
            existing = await queries.guild_subscriptions(self.store, guild.id)
            if len(existing) >= self.settings.max_subscriptions_per_guild:
                raise UsageError(f"This server has {len(existing)} subscriptions, the most allowed: "
                                 "/unsubscribe one first (/subscriptions lists them).")
            since = self.clock() - timedelta(days=MATCH_DAYS)
            recent = await self.store.list_series(since=since)
            matched = sum(1 for v in recent if v.duplicate_of is None and matches(flt, v))
            cfg = SubscriptionConfig(
                guild=guild.id, channel=target, filter=flt, threads=threads, single_threads=single_threads,
                alert_channel=alert_channel.id if alert_channel else None,
                alert_role=alert_role.id if alert_role else None,
            )
            sub_id = await self.store.add_subscription(cfg, origin="slash")
            return Answer(pages.subscribed(
                sub_id, target, flt, threads=threads, alert_channel=cfg.alert_channel, alert_role=cfg.alert_role,
                matched=matched, days=MATCH_DAYS,
                role_pings=alert_role is None or _role_pings(interaction, alert_role, cfg.alert_channel),
            ), ephemeral=True)

        await self._run(interaction, work())

    @app_commands.command(name="unsubscribe", description="Remove one of this server's subscriptions")
    @app_commands.guild_only()
    @app_commands.default_permissions(manage_channels=True)
    @app_commands.describe(subscription="The subscription's number (see /subscriptions)")
    async def unsubscribe(self, interaction: discord.Interaction, subscription: app_commands.Range[int, 1, 2**31 - 1]) -> None:
        async def work() -> Answer:
            guild = guild_of(interaction)
            _check_manage(interaction)
            if not await queries.remove_guild_subscription(self.store, guild.id, subscription):
                raise UsageError(f"This server has no subscription #{subscription}: /subscriptions lists its own.")
            return Answer(pages.notice(f"Subscription #{subscription} removed: no more cards from it."), ephemeral=True)

        await self._run(interaction, work())

    @unsubscribe.autocomplete("subscription")
    async def subscription_choices(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[int]]:
        if interaction.guild_id is None:
            return []
        subs = await queries.guild_subscriptions(self.store, interaction.guild_id)
        typed = current.strip().lstrip("#")
        names = {c.id: c.name for c in interaction.guild.channels} if interaction.guild else {}
        choices = []
        for sub in subs:
            label = f"#{sub.id} in #{names.get(sub.channel_id, sub.channel_id)}: " + "; ".join(
                pages.describe_filter(sub.filter, threads=sub.threads, escaped=False))
            if typed and typed not in str(sub.id) and typed.lower() not in label.lower():
                continue
            choices.append(app_commands.Choice(name=shorten_plain(label, CHOICE_NAME_MAX), value=sub.id))
        return choices[:25]  # Discord takes at most 25

    @app_commands.command(name="subscriptions", description="This server's subscriptions")
    @app_commands.guild_only()
    async def subscriptions(self, interaction: discord.Interaction) -> None:
        async def work() -> Answer:
            guild = guild_of(interaction)
            return Answer(pages.subscriptions_page(await queries.guild_subscriptions(self.store, guild.id)),
                          ephemeral=True)

        await self._run(interaction, work())
