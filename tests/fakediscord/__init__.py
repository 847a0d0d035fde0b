"""A fake Discord (REST + gateway) on 127.0.0.1 for unmodified discord.py 2.7.

In-process::

    async with FakeDiscord(guild_id=G, channels=[C1, C2]) as fake:   # ids, names or (id, name)
        client = discord.Client(intents=discord.Intents(guilds=True), guild_ready_timeout=0.05)
        async with running(fake, client):         # login + connect + READY, close on exit
            await client.get_channel(C1).send("hi")
            await fake.wait_for(lambda f: len(f.messages) >= 1, timeout=10)
            record = fake.interact("kvm", [{"type": 1, "name": "status"}], channel_id=C1)
            await fake.answered(record)               # a callback, and past a defer the answer
            press = await fake.answered(fake.press(record.original_message_id, "next"))
            typed = await fake.answered(fake.autocomplete("series", [{"type": 1, "name": "show",
                "options": [{"type": 3, "name": "series", "value": "pi", "focused": True}]}]))
            typed.choices                              # what the bot offered (at most 25)

``pointed_at(fake)`` alone redirects discord.py for code that starts its own client.

Standalone: ``python -m tests.fakediscord --port P --guild G --channels C1,C2``
prints one line ``fakediscord ready api=http://... gateway=ws://... control=http://.../_fake``
and serves until killed.

Pointing discord.py at the fake (verified against discord.py 2.7.1):

* ``discord.http.Route.BASE`` is read each time a Route is built, so setting it to
  ``fake.api_base_url`` (``http://127.0.0.1:P/api/v10``) redirects every REST call,
  interaction callbacks and follow-ups included (they use Route too).
* A plain ``Client.connect()`` never asks for /gateway/bot: it connects to
  ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` (a ``yarl.URL``), so set that to
  ``yarl.URL(fake.gateway_url)``. ``AutoShardedClient`` asks GET /gateway/bot, which the
  fake answers with its own ws URL. After READY, RESUMEs go to the ``resume_gateway_url``
  from READY (``ws://127.0.0.1:P/resume``); an invalidated session returns to
  DEFAULT_GATEWAY.
* ``pointed_at(fake)`` sets both and restores them on exit. The bot's own settings
  ``api_base_url``/``gateway_url`` should do the same two assignments.
* ``on_ready`` waits ``guild_ready_timeout`` (default 2 s) after the last GUILD_CREATE:
  pass ``guild_ready_timeout=0.05`` to the Client in tests.
* discord.py retries 500/502/504 itself after sleeping 1 s, 3 s ...; an injected 503
  is raised at once (DiscordServerError). 429s need ``Via`` (sent unless
  ``RestFault(via=False)``) or discord.py treats them as a Cloudflare ban.

Limits, error codes and faults are described in limits.py, rest.py, faults.py;
command registration and invocation rules in commands.py, components and
modals in components.py, interaction callbacks (types per interaction, the
3-second and 15-minute deadlines) in interactions.py; the /_fake control
routes in control.py (POST /_fake/interactions, /_fake/components,
/_fake/autocomplete and /_fake/modals dispatch one and answer once the bot has).
Each rule the fake enforces cites its source in the module that enforces it:
ratelimits.py (per-route, global and invalid-request limits), permissions.py
(50001/50013, thread permissions), messages.py (replies, history, 50005,
30046, nonces, archived threads), channels.py (thread creation,
160004/160006, 50083 renames, auto-archive), limits.py (lengths, embed URLs,
allowed_mentions), mentions.py (who is notified), gateway.py (intents
4013/4014, heartbeats, op 1, send limit 4008). Defaults are Discord's; tests
relax a limit by a knob on FakeDiscord (rate limits, nonce window, ...) or
move the fake's clock with `fake.advance(s)`.
"""

from __future__ import annotations

from . import permissions
from .discordpy import pointed_at, running
from .faults import RestFault
from .ratelimits import RateLimits
from .server import DEFAULT_BOT_ID, DEFAULT_GUILD_ID, FakeDiscord
from .state import Channel, InteractionRecord, Message, RequestRecord

# Discord's limits with every window 50 times shorter: the shape of Discord's
# rate limiting (5 posts per channel, then wait) at test speed.
FAST_RATE_LIMITS = RateLimits.discord().scaled(0.02)

__all__ = [
    "DEFAULT_BOT_ID",
    "DEFAULT_GUILD_ID",
    "FAST_RATE_LIMITS",
    "Channel",
    "FakeDiscord",
    "InteractionRecord",
    "Message",
    "RateLimits",
    "RequestRecord",
    "RestFault",
    "permissions",
    "pointed_at",
    "running",
]
