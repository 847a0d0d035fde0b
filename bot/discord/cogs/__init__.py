"""Slash-command cogs, one module per feature; `bot.discord.client.PatchBot` builds
each with what it needs (store, settings, pager, limits) and adds it."""
