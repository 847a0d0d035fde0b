"""The bot's permissions in a channel, computed the way Discord computes them.

Sources (discord-api-docs, developers/topics/permissions.mdx):
* the base is the @everyone role's permissions (the fake gives the bot no
  other role), minus the channel's @everyone overwrite ("Permission Overwrites");
* "Denying a user or a role VIEW_CHANNEL on a channel implicitly denies other
  permissions on the channel" ("Implicit Permissions");
* "Threads inherit permissions from the parent channel ... The SEND_MESSAGES
  permission is not inherited; users must have SEND_MESSAGES_IN_THREADS to
  send a message in a thread" ("Permissions for Threads"; threads.mdx says the
  same: "SEND_MESSAGES has no effect in threads").

What a route needs is decided by the route (messages.py, channels.py); this
module only computes bits and names the missing ones. No access at all
(VIEW_CHANNEL missing) answers 403 50001 "Missing Access", a missing
permission 403 50013 "Missing Permissions" (opcodes-and-status-codes.mdx).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .state import Channel, FakeState

CREATE_INSTANT_INVITE = 1 << 0
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
MANAGE_THREADS = 1 << 34
CREATE_PUBLIC_THREADS = 1 << 35
CREATE_PRIVATE_THREADS = 1 << 36
SEND_MESSAGES_IN_THREADS = 1 << 38

# Every permission bit Discord defines up to bit 49, except ADMINISTRATOR (which
# would bypass every overwrite and make the checks meaningless).
ALL_PERMISSIONS = (1 << 50) - 1 - ADMINISTRATOR
# What a bot invited with the usual scopes has: everything but moderating other
# people's content, so locked threads refuse it as they refuse most bots
# (threads.mdx, "Users (including bot users) without the MANAGE_THREADS permission
# are more restricted in locked threads") and it may not delete others' messages.
DEFAULT_BOT_PERMISSIONS = ALL_PERMISSIONS & ~MANAGE_THREADS & ~MANAGE_MESSAGES

NAMES = {
    VIEW_CHANNEL: "VIEW_CHANNEL",
    SEND_MESSAGES: "SEND_MESSAGES",
    MANAGE_MESSAGES: "MANAGE_MESSAGES",
    EMBED_LINKS: "EMBED_LINKS",
    READ_MESSAGE_HISTORY: "READ_MESSAGE_HISTORY",
    MENTION_EVERYONE: "MENTION_EVERYONE",
    MANAGE_CHANNELS: "MANAGE_CHANNELS",
    MANAGE_THREADS: "MANAGE_THREADS",
    CREATE_PUBLIC_THREADS: "CREATE_PUBLIC_THREADS",
    CREATE_PRIVATE_THREADS: "CREATE_PRIVATE_THREADS",
    SEND_MESSAGES_IN_THREADS: "SEND_MESSAGES_IN_THREADS",
}


def in_channel(state: FakeState, channel: Channel) -> int:
    """The bot's effective permissions in a text channel or thread."""
    if channel.is_thread:
        parent = state.channels.get(channel.parent_id or 0) or state.deleted_channels.get(channel.parent_id or 0)
        if parent is None:
            return 0
        base = in_channel(state, parent)
    else:
        perms = state.everyone_permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS | ADMINISTRATOR
        base = (perms & ~channel.deny) | channel.allow
    if not base & VIEW_CHANNEL:
        return 0  # implicit: no view, nothing else
    return base


def missing(state: FakeState, channel: Channel, needed: int) -> tuple[int, str] | None:
    """None if the bot may; else Discord's (code, message) for what it lacks."""
    perms = in_channel(state, channel)
    if not perms & VIEW_CHANNEL:
        return 50001, "Missing Access"
    if perms & needed != needed:
        return 50013, "Missing Permissions"
    return None


def describe(bits: int) -> list[str]:
    return [name for bit, name in NAMES.items() if bits & bit]
