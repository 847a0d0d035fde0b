"""Discord JSON payloads built from the fake's state (the shapes discord.py parses)."""

from __future__ import annotations

from typing import Any

from .permissions import (
    ADMINISTRATOR, ALL_PERMISSIONS, CREATE_PUBLIC_THREADS, SEND_MESSAGES, SEND_MESSAGES_IN_THREADS,
)
from .state import Attachment, Channel, FakeState, Message, Role, iso_now

# What set_forbidden denies to @everyone (and so to the bot): posting of any kind.
FORBIDDEN_DENY = SEND_MESSAGES | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS


def user(user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": name,
        "global_name": None,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "system": False,
        "public_flags": 0,
        "flags": 0,
    }


def bot_user(state: FakeState) -> dict[str, Any]:
    data = user(state.bot_id, "kvm-patchbot-fake", bot=True)
    data.update(verified=True, mfa_enabled=False, email=None, locale="en-US")
    return data


def member(user_data: dict[str, Any], *, permissions: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "user": user_data,
        "nick": None,
        "avatar": None,
        "roles": [],
        "joined_at": "2024-01-01T00:00:00.000000+00:00",
        "premium_since": None,
        "deaf": False,
        "mute": False,
        "flags": 0,
        "pending": False,
    }
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def application(state: FakeState) -> dict[str, Any]:
    return {
        "id": str(state.application_id),
        "name": "kvm-patchbot-fake",
        "icon": None,
        "description": "",
        "rpc_origins": [],
        "bot_public": True,
        "bot_require_code_grant": False,
        "bot": bot_user(state),
        "owner": user(state.bot_id + 1, "owner"),
        "summary": "",
        "verify_key": "0" * 64,
        "team": None,
        "flags": 0,
        "interactions_endpoint_url": None,
        "tags": [],
    }


def everyone_role(state: FakeState, guild_id: int | None = None) -> dict[str, Any]:
    return {
        "id": str(state.guild_id if guild_id is None else guild_id),  # @everyone shares the guild's id
        "name": "@everyone",
        "color": 0,
        "hoist": False,
        "icon": None,
        "unicode_emoji": None,
        "position": 0,
        "permissions": str(state.everyone_permissions),
        "managed": False,
        "mentionable": False,
        "flags": 0,
    }


def role(state: FakeState, r: Role) -> dict[str, Any]:
    data = everyone_role(state)
    data.update(id=str(r.id), name=r.name, position=1, permissions=str(r.permissions), mentionable=r.mentionable)
    return data


def channel(state: FakeState, ch: Channel) -> dict[str, Any]:
    if ch.is_thread:
        return thread(state, ch)
    overwrites = []
    if ch.deny or ch.allow:
        overwrites.append({"id": str(ch.guild_id), "type": 0, "allow": str(ch.allow), "deny": str(ch.deny)})
    return {
        "id": str(ch.id),
        "type": ch.type,
        "guild_id": str(ch.guild_id),
        "name": ch.name,
        "position": ch.position,
        "permission_overwrites": overwrites,
        "topic": ch.topic,
        "nsfw": False,
        "last_message_id": None if ch.last_message_id is None else str(ch.last_message_id),
        "rate_limit_per_user": 0,
        "parent_id": None,
        "default_auto_archive_duration": 1440,
        "flags": 0,
    }


def thread(state: FakeState, ch: Channel) -> dict[str, Any]:
    return {
        "id": str(ch.id),
        "type": ch.type,
        "guild_id": str(ch.guild_id),
        "parent_id": str(ch.parent_id),
        "owner_id": str(ch.owner_id or state.bot_id),
        "name": ch.name,
        "last_message_id": None if ch.last_message_id is None else str(ch.last_message_id),
        "rate_limit_per_user": 0,
        "message_count": ch.message_count,
        "member_count": 1,
        "total_message_sent": ch.message_count,
        "flags": 0,
        "thread_metadata": {
            "archived": ch.archived,
            "auto_archive_duration": ch.auto_archive_duration,
            "archive_timestamp": ch.archive_timestamp,
            "locked": ch.locked,
            "invitable": True,
            "create_timestamp": ch.created_at,
        },
    }


def thread_member(state: FakeState, ch: Channel) -> dict[str, Any]:
    return {"id": str(ch.id), "user_id": str(state.bot_id), "join_timestamp": ch.created_at, "flags": 0}


def message(state: FakeState, msg: Message) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(msg.id),
        "type": 19 if msg.message_reference else 0,
        "channel_id": str(msg.channel_id),
        "author": bot_user(state) if msg.author_id == state.bot_id else user(msg.author_id, f"user-{msg.author_id}"),
        "content": msg.content,
        "timestamp": msg.timestamp,
        "edited_timestamp": msg.edited_timestamp,
        "tts": False,
        "mention_everyone": msg.mention_everyone,
        "mentions": [user(u, f"user-{u}") for u in msg.mention_users],
        "mention_roles": [str(r) for r in msg.mention_roles],
        "attachments": [attachment(state, msg, a) for a in msg.attachments],
        "embeds": msg.embeds,
        "pinned": False,
        "flags": msg.flags,
        "components": msg.components,
    }
    if msg.guild_id is not None:
        data["guild_id"] = str(msg.guild_id)
    if msg.message_reference:
        data["message_reference"] = msg.message_reference
    if msg.webhook_id is not None:
        data["webhook_id"] = str(msg.webhook_id)
        data["application_id"] = str(state.application_id)
    if msg.interaction_id is not None and msg.interaction_user_id is not None:
        # "sent on the message object when the message is a response to an Interaction"
        data["interaction_metadata"] = {
            "id": str(msg.interaction_id),
            "type": msg.interaction_type,
            "user": user(msg.interaction_user_id, "tester"),
            "authorizing_integration_owners": {"0": str(state.guild_id)},
        }
    if msg.thread_id is not None and msg.thread_id in state.channels:
        data["thread"] = thread(state, state.channels[msg.thread_id])
    return data


def attachment(state: FakeState, msg: Message, item: Attachment) -> dict[str, Any]:
    url = f"https://cdn.discordapp.com/attachments/{msg.channel_id}/{item.id}/{item.filename}"
    return {
        "id": str(item.id),
        "filename": item.filename,
        "size": len(item.data),
        "url": url,
        "proxy_url": url.replace("cdn.discordapp.com", "media.discordapp.net"),
        "content_type": item.content_type or None,
    }


def guild(state: FakeState, *, with_members: bool = True, guild_id: int | None = None) -> dict[str, Any]:
    gid = state.guild_id if guild_id is None else guild_id
    data: dict[str, Any] = {
        "id": str(gid),
        "name": state.guild_name_of(gid),
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "owner_id": str(state.bot_id + 1),
        "afk_channel_id": None,
        "afk_timeout": 300,
        "verification_level": 0,
        "default_message_notifications": 1,
        "explicit_content_filter": 0,
        "roles": [everyone_role(state, gid), *(role(state, r) for r in state.roles.values())],
        "emojis": [],
        "stickers": [],
        "features": [],
        "mfa_level": 0,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "vanity_url_code": None,
        "description": None,
        "banner": None,
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "preferred_locale": "en-US",
        "public_updates_channel_id": None,
        "nsfw_level": 0,
        "premium_progress_bar_enabled": False,
    }
    if with_members:
        data.update(
            joined_at="2024-01-01T00:00:00.000000+00:00",
            large=False,
            unavailable=False,
            member_count=2,
            voice_states=[],
            members=[member(bot_user(state))],
            channels=[channel(state, c) for c in state.text_channels(gid)],
            threads=[thread(state, t) for t in state.threads(gid) if not t.archived],
            presences=[],
            stage_instances=[],
            guild_scheduled_events=[],
            soundboard_sounds=[],
        )
    return data


def _walk_options(options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Leaf options, descending into sub-commands and groups."""
    leaves = []
    for option in options:
        if option.get("type") in (1, 2):
            leaves += _walk_options(option.get("options") or [])
        else:
            leaves.append(option)
    return leaves


def resolved(state: FakeState, options: list[dict[str, Any]], *, permissions: int = ALL_PERMISSIONS) -> dict[str, Any]:
    """Discord's `resolved` objects for user (6), channel (7) and role (8) option values.

    A resolved channel's `permissions` are the invoking member's in that channel
    (receiving-and-responding.mdx, "Resolved Data Structure"), not the bot's:
    their base permissions with the channel's @everyone overwrite applied
    (permissions.mdx, "Permission Overwrites"; ADMINISTRATOR overrides it)."""
    found: dict[str, dict[str, Any]] = {}
    for option in _walk_options(options):
        kind, value = option.get("type"), str(option.get("value"))
        if kind == 7 and int(value) in state.channels:
            target = state.channels[int(value)]
            data = channel(state, target)
            there = permissions if permissions & ADMINISTRATOR else (permissions & ~target.deny) | target.allow
            data["permissions"] = str(there)
            found.setdefault("channels", {})[value] = data
        elif kind == 6:
            found.setdefault("users", {})[value] = user(int(value), f"user-{value}")
            found.setdefault("members", {})[value] = {
                k: v for k, v in member(user(int(value), f"user-{value}"), permissions=0).items() if k != "user"
            }
        elif kind == 8:
            # The role object as the guild has it ("Resolved Data Structure":
            # roles, "the ids and Role objects"), `mentionable` included.
            if int(value) in state.roles:
                data = role(state, state.roles[int(value)])
            else:
                data = everyone_role(state)
                if value != data["id"]:
                    data.update(id=value, name=f"role-{value}", permissions="0")
            found.setdefault("roles", {})[value] = data
    return found


def command_data(
    state: FakeState, command: dict[str, Any], options: list[dict[str, Any]], *, permissions: int
) -> dict[str, Any]:
    """`data` of an APPLICATION_COMMAND (2) or APPLICATION_COMMAND_AUTOCOMPLETE (4) interaction."""
    data: dict[str, Any] = {
        "id": command["id"],
        "name": command["name"],
        "type": command.get("type", 1),
        "options": options,
    }
    if (found := resolved(state, options, permissions=permissions)):
        data["resolved"] = found
    if command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def interaction(
    state: FakeState,
    *,
    interaction_id: int,
    token: str,
    kind: int,
    data: dict[str, Any],
    channel_obj: Channel,
    user_id: int,
    user_name: str,
    permissions: int,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An interaction of type `kind` (2 command, 3 component, 4 autocomplete, 5 modal submit)."""
    payload = {
        "id": str(interaction_id),
        "application_id": str(state.application_id),
        "type": kind,
        "data": data,
        "guild_id": str(state.guild_id),
        "guild": {"id": str(state.guild_id), "locale": "en-US", "features": []},
        "channel_id": str(channel_obj.id),
        "channel": channel(state, channel_obj),
        "member": member(user(user_id, user_name), permissions=permissions),
        "token": token,
        "version": 1,
        "app_permissions": str(ALL_PERMISSIONS),
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": {"0": str(state.guild_id)},
        "context": 0,
        "attachment_size_limit": 10 * 1024 * 1024,
    }
    if message is not None:  # "For components or modals triggered by components, the message"
        payload["message"] = message
    return payload


def now() -> str:
    return iso_now()
