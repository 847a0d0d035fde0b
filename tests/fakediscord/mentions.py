"""Who a message notifies: Discord's mention resolution, as documented.

message.mdx, "Allowed Mentions Object":
* with no `allowed_mentions`, a regular message parses user, role and
  @everyone/@here mentions ("all mention types are parsed");
* `parse` lists the types parsed from the content; `users`/`roles` list the
  only ids that may be mentioned; ids in the list but not in the content
  notify nobody;
* `replied_user` (default false) pings the author of the replied-to message.
permissions.mdx: MENTION_EVERYONE "Allows for using the @everyone tag ... and
the @here tag"; a role mention notifies only if the role is mentionable or the
sender has MENTION_EVERYONE (discord-facts.md, "Rules a lenient fake lets slip").

A backslash before the mention (`\\<@&1>`, `\\@everyone`) is markdown's escape:
the client shows the text and nobody is notified, so those are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .permissions import MENTION_EVERYONE
from .state import FakeState

_USER = re.compile(r"(?<!\\)<@!?(\d{1,20})>")
_ROLE = re.compile(r"(?<!\\)<@&(\d{1,20})>")
_EVERYONE = re.compile(r"(?<!\\)@(everyone|here)\b")
DEFAULT_PARSE = ("users", "roles", "everyone")


@dataclass
class Resolved:
    users: list[int] = field(default_factory=list)
    roles: list[int] = field(default_factory=list)
    everyone: bool = False


def resolve(state: FakeState, content: str, allowed: dict[str, Any] | None, perms: int) -> Resolved:
    """The users, roles and @everyone that `content` actually notifies."""
    parse = DEFAULT_PARSE if allowed is None else tuple(allowed.get("parse") or ())
    allowed_users = None if allowed is None else {int(u) for u in allowed.get("users") or ()}
    allowed_roles = None if allowed is None else {int(r) for r in allowed.get("roles") or ()}
    out = Resolved()
    for match in _USER.finditer(content):
        uid = int(match.group(1))
        if ("users" in parse or (allowed_users is not None and uid in allowed_users)) and uid not in out.users:
            out.users.append(uid)
    can_ping_all = bool(perms & MENTION_EVERYONE)
    for match in _ROLE.finditer(content):
        rid = int(match.group(1))
        role = state.roles.get(rid)
        if role is None or rid in out.roles:
            continue  # Discord resolves only roles of the guild
        if not ("roles" in parse or (allowed_roles is not None and rid in allowed_roles)):
            continue
        if role.mentionable or can_ping_all:
            out.roles.append(rid)
    if "everyone" in parse and can_ping_all and _EVERYONE.search(content):
        out.everyone = True
    return out
