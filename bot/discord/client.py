"""The discord.py client: guilds intent only, no mentions by default, our API location.

The bot needs no privileged intents: it posts over REST and listens to the
gateway only for guild and channel changes (a deleted channel disables its
subscriptions) and interactions (slash commands, page buttons, autocomplete).

    bot = make_client(settings, store, deleted=..., digest=StoreDigest(store))

Like discord.py's examples/advanced_startup.py, what the cogs need (the store,
the settings, the pager, the per-user limits, the digest maker) reaches the
bot through its constructor and each cog through its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import discord
import discord.gateway
import discord.http
import yarl
from discord.ext import commands

from bot.config import DiscordSettings, Settings
from bot.discord.cogs.digest import Digest, DigestMaker
from bot.discord.cogs.fixes import Fixes
from bot.discord.cogs.permissions import PermissionWatch
from bot.discord.cogs.series import Series
from bot.discord.cogs.stable import Stable
from bot.discord.cogs.stats import Stats
from bot.discord.cogs.status import Status
from bot.discord.cogs.subscriptions import Subscriptions
from bot.discord.pager import PageButton, Pager
from bot.discord.ratelimit import UserLimits
from bot.discord.tree import PatchTree
from bot.notify.delivery.status import DeliveryStatus
from bot.notify.sink import DeletedChannels, PermissionChanges
from bot.store import Store

log = logging.getLogger(__name__)


def point_at(settings: DiscordSettings) -> None:
    """Send discord.py's REST calls and first gateway connection where the settings say."""
    discord.http.Route.BASE = settings.api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


def intents() -> discord.Intents:
    wanted = discord.Intents.none()
    wanted.guilds = True
    return wanted


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class PatchBot(commands.Bot):
    """commands.Bot holding what the slash commands need; reports deleted channels
    to the delivery worker."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        deleted: DeletedChannels | None = None,
        digest: DigestMaker | None = None,
        permission_changes: PermissionChanges | None = None,
        clock: Callable[[], datetime] = utcnow,
        **options: Any,
    ) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents(),
            allowed_mentions=discord.AllowedMentions.none(),
            help_command=None,
            tree_cls=PatchTree,
            **options,
        )
        self.settings = settings
        self.store = store
        self.deleted_channels = deleted
        self.digest = digest
        self.permission_changes = permission_changes
        self.clock = clock
        commands_ = settings.commands
        self.limits = UserLimits(commands_.expensive_per_user, commands_.expensive_window_seconds)
        self.pager = Pager(defer_after=commands_.defer_after_seconds)

    def cogs_to_load(self) -> list[commands.Cog]:
        c, store, pager, limits, clock = self.settings.commands, self.store, self.pager, self.limits, self.clock
        cogs: list[commands.Cog] = [
            Status(DeliveryStatus(store), c),
            Subscriptions(store, c, clock=clock),
            Series(store, pager, limits, c),
            Stable(store, pager, c, clock=clock),
            Fixes(store, pager, c),
            Stats(store, limits, c, clock=clock),
        ]
        if self.digest is not None:
            cogs.append(Digest(self.digest, limits, c, clock=clock))
        if self.permission_changes is not None:
            cogs.append(PermissionWatch(self, self.permission_changes))
        return cogs

    async def setup_hook(self) -> None:
        self.add_dynamic_items(PageButton)  # page buttons of answers sent before a restart
        for cog in self.cogs_to_load():
            await self.add_cog(cog)
        guild_ids = self.settings.discord.guild_ids
        if not guild_ids:
            # Global commands reach every guild, after Discord's client caches catch up.
            await self.tree.sync()
        for guild_id in guild_ids:  # guild commands update at once
            guild = discord.Object(id=guild_id)
            self.tree.copy_global_to(guild=guild)
            try:
                await self.tree.sync(guild=guild)
            except discord.HTTPException as exc:
                # A wrong id, or a guild the bot is not in: that guild lacks the
                # commands, everything else (delivery included) carries on.
                log.error("discord.guild_ids: cannot register slash commands in guild %s (%s %s): "
                          "is the id right and the bot in that server?", guild_id, exc.status, exc.text)

    async def on_guild_channel_delete(self, channel: discord.abc.GuildChannel) -> None:
        if self.deleted_channels is not None:
            self.deleted_channels.report(channel.id)


class ShardedPatchBot(PatchBot, commands.AutoShardedBot):
    """The same bot on some of the application's shards (`discord.shard_count`,
    `discord.shard_ids`): discord.py's AutoShardedClient runs one gateway
    connection per shard id; REST (every post) needs no shard."""


def make_client(settings: Settings, store: Store, **kwargs: Any) -> PatchBot:
    point_at(settings.discord)
    mine = settings.discord.my_shards()
    if mine is None:
        return PatchBot(settings, store, **kwargs)
    count, ids = mine
    return ShardedPatchBot(settings, store, shard_count=count, shard_ids=ids, **kwargs)
