"""Person and address parsing: `Name <addr>`, `addr (Name)`, bare addresses.

Used for headers (From, To, Cc, already RFC 2047 decoded) and for trailer
values. Tolerant by design: whatever cannot be read as an address becomes a
name-only Person, so nothing is ever lost and nothing raises.

Addresses keep the local part as written and lower-case the domain (domains
are case-insensitive; local parts in theory are not).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from bot.mail.models import Person

# HTML mail clients turn `<a@b.c>` into `<a@b.c<mailto:a@b.c>>`; the trailing
# `<mailto:...>` copy is junk.
_MAILTO_JUNK: Final = re.compile(r"<mailto:[^<>]*>", re.IGNORECASE)
# RFC 5322 groups: `undisclosed-recipients:;`, `Team: a@x, b@x;`
_GROUP_START: Final = re.compile(r'(^|,)\s*[^,:<>"@]+:(?!//)')
_SPECIAL: Final = re.compile(r'[\\"<>(),]')
_BARE_ADDR: Final = re.compile(r"[^\s<>()\"',;:\[\]]+@[^\s<>()\"',;:\[\]]+")


def normalise_email(addr: str) -> str:
    """Strip wrapping junk (`<>`, `mailto:`, trailing dots) and lower-case the domain."""
    addr = addr.strip().strip("<>").strip()
    if addr[:7].lower() == "mailto:":
        addr = addr[7:]
    addr = addr.rstrip(".,;")
    local, at, domain = addr.rpartition("@")
    if not at:
        return addr
    return f"{local}@{domain.lower()}"


def _clean_name(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == '"' and name[-1] == '"':
        name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    elif len(name) >= 2 and name[0] == "'" and name[-1] == "'":
        name = name[1:-1]
    elif name.count('"') == 1:
        name = name.replace('"', "")  # an unterminated quote
    return " ".join(name.split())


@lru_cache(maxsize=16384)
def parse_person(value: str) -> Person:
    """One person from `Name <addr>`, `"Name" <addr>`, `addr (Name)`, `<addr>` or `addr`.

    A value without any address gives a name-only Person (e.g. a trailer such
    as `Reported-by: syzbot`).
    """
    value = value.strip()
    if not value:
        return Person()
    if "mailto:" in value.lower():
        value = _MAILTO_JUNK.sub("", value)
    lt = value.rfind("<")
    if lt != -1:
        gt = value.find(">", lt)
        if gt == -1:
            gt = len(value)
        inner = value[lt + 1 : gt]
        if "@" in inner:
            name = value[:lt]
            if not name.strip():
                # `<addr> (Name)`
                name = value[gt + 1 :].strip()
                if name.startswith("(") and name.endswith(")"):
                    name = name[1:-1]
            return Person(name=_clean_name(name), email=normalise_email(inner))
    if "@" in value:
        # `addr (Name)` or `Name addr` or a bare address.
        m = _BARE_ADDR.search(value)
        if m:
            rest = (value[: m.start()] + value[m.end() :]).strip()
            if rest.startswith("(") and rest.endswith(")"):
                rest = rest[1:-1]
            return Person(name=_clean_name(rest), email=normalise_email(m.group(0)))
    return Person(name=_clean_name(value))


def split_addresses(value: str) -> list[str]:
    """Split a header value on commas that are outside quotes, `<>` and `()`."""
    if "," not in value:
        return [value] if value.strip() else []
    out: list[str] = []
    start = 0
    quoted = False
    depth_angle = depth_paren = 0
    escaped_at = -1  # a backslash escapes the character after it, whatever it is
    # Only these characters change the state: visit them, not every character.
    for m in _SPECIAL.finditer(value):
        i = m.start()
        if i == escaped_at:
            continue
        ch = value[i]
        if ch == "\\":
            escaped_at = i + 1
        elif ch == '"':
            quoted = not quoted
        elif quoted:
            continue
        elif ch == "<":
            depth_angle += 1
        elif ch == ">":
            depth_angle = max(0, depth_angle - 1)
        elif ch == "(":
            depth_paren += 1
        elif ch == ")":
            depth_paren = max(0, depth_paren - 1)
        elif ch == "," and not depth_angle and not depth_paren:
            out.append(value[start:i])
            start = i + 1
    out.append(value[start:])
    return [part for part in out if part.strip()]


def parse_address_list(value: str) -> tuple[Person, ...]:
    """Every person of a To/Cc-style header value, in order, empty entries dropped.

    Group syntax (`undisclosed-recipients:;`) contributes its members only.
    `Doe, Jane <jane@x>` (an unquoted comma inside a name) would split into a
    name-only `Doe` and `Jane <jane@x>`; we merge a name-only fragment into the
    following entry so the name survives.
    """
    people: list[Person] = []
    pending = ""
    if ":" in value and ";" in value:
        value = _GROUP_START.sub(r"\1", value).replace(";", ",")
    for part in split_addresses(value):
        if "@" not in part:
            pending = f"{pending}, {part.strip()}" if pending else part.strip()
            continue
        person = parse_person(part)
        if pending:
            name = f"{pending}, {person.name}" if person.name else pending
            person = Person(name=_clean_name(name), email=person.email)
            pending = ""
        people.append(person)
    if pending:
        people.append(Person(name=_clean_name(pending)))
    return tuple(people)
