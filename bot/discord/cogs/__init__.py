"""Slash-command cogs, one module per group, loaded by `bot.discord.client.COGS`."""
