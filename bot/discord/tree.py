"""The command tree: every error a user can meet is answered ephemerally, saying what to do."""

from __future__ import annotations

import logging

import discord
from discord import app_commands

from bot.discord import answers
from bot.discord.options import UsageError

log = logging.getLogger(__name__)


def explain(error: app_commands.AppCommandError) -> str | None:
    """What to tell the user, or None for our own fault (logged, apologised for)."""
    cause = error.original if isinstance(error, app_commands.CommandInvokeError) else error
    if isinstance(cause, UsageError):
        return str(cause)
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command works in a server's channels, not in direct messages."
    if isinstance(error, app_commands.MissingPermissions):
        return "You need the " + ", ".join(p.replace("_", " ").title() for p in error.missing_permissions) + " permission for this."
    if isinstance(error, app_commands.TransformerError):
        return f"`{error.value}` is not something this option takes: pick one from the list Discord offers."
    if isinstance(error, app_commands.CommandNotFound):
        return "This command is gone from the bot (it was renamed or removed): type / to see the current ones."
    return None


class PatchTree(app_commands.CommandTree[discord.Client]):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        message = explain(error)
        if message is None:
            name = interaction.command.qualified_name if interaction.command else "?"
            log.error("/%s failed", name, exc_info=error)
            message = answers.OOPS
        try:
            await answers.send(interaction, answers.refusal(message))
        except discord.HTTPException as exc:  # e.g. 10062: the interaction expired meanwhile
            log.warning("could not report an error to the user: %s", exc)
