"""Database URLs as people write them, mapped to the async drivers the store runs on.

`sqlite:///x.db` and `postgresql://...` are what everyone writes (and what
other tools print); SQLAlchemy's asyncio extension needs the driver named:
`sqlite+aiosqlite://`, `postgresql+asyncpg://`. A URL naming a synchronous
driver, or another database, is refused with a line saying what to write.
Pure string work: no SQLAlchemy import, so settings can be checked without it.
"""

from __future__ import annotations

import re
from urllib.parse import quote

SQLITE = "sqlite+aiosqlite"
POSTGRESQL = "postgresql+asyncpg"
EXAMPLES = "sqlite:///relative.db, sqlite:////absolute/path.db or postgresql://user@host/db"

_PASSWORD = re.compile(r"^([^:/?#@]*:)[^@/?#]*@")


class StoreUrlError(ValueError):
    """Not a database URL the store can open."""


def hide_password(url: str) -> str:
    """`url` with any password replaced by ***, for messages and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    return scheme + "://" + _PASSWORD.sub(r"\1***@", rest, count=1)


def async_url(url: str) -> str:
    """The SQLAlchemy async URL for `url`; raises StoreUrlError saying what to write instead."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep or not scheme:
        raise StoreUrlError(f"not a database URL: {hide_password(text)!r} (write e.g. {EXAMPLES})")
    dialect, _, driver = scheme.lower().partition("+")
    if dialect == "sqlite":
        if driver not in ("", "aiosqlite"):
            raise StoreUrlError(f"{scheme}: the store runs SQLite through aiosqlite: write sqlite:///PATH")
        if rest and not rest.startswith("/"):
            raise StoreUrlError(
                f"{hide_password(text)!r} names a host: a SQLite URL has three slashes before a relative "
                "path (sqlite:///x.db) and four before an absolute one (sqlite:////var/lib/x.db)"
            )
        return f"{SQLITE}://{rest}"
    if dialect in ("postgresql", "postgres"):
        if driver not in ("", "asyncpg"):
            raise StoreUrlError(f"{scheme}: the store runs PostgreSQL through asyncpg: write postgresql://...")
        return f"{POSTGRESQL}://{rest}"
    raise StoreUrlError(f"{scheme}: the store runs on SQLite or PostgreSQL (write e.g. {EXAMPLES})")


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL (as given, relative or absolute); None for
    PostgreSQL and for an in-memory database."""
    scheme, _, rest = url.partition("://")
    if not scheme.lower().startswith("sqlite"):
        return None
    path = rest[1:].split("?", 1)[0]
    return path if path and path != ":memory:" else None


def with_password(url: str, password: str) -> str:
    """`url` (PostgreSQL, with a user) with `password` in it, quoted as a URL needs.

    Idempotent: a URL that already holds this password is returned as it is.
    """
    scheme, _, rest = url.partition("://")
    if not scheme.startswith("postgresql"):
        raise StoreUrlError("a password is for PostgreSQL: a SQLite URL takes none")
    userinfo, at, host = rest.partition("@")
    if not at or not userinfo:
        raise StoreUrlError(f"{hide_password(url)!r} names no user: write postgresql://user@host/db")
    user, colon, given = userinfo.partition(":")
    if colon and given != quote(password, safe=""):
        raise StoreUrlError("the URL holds a password already: give it there or in the file, not both")
    return f"{scheme}://{user}:{quote(password, safe='')}@{host}"
