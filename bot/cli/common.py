"""What the sub-commands share: their error type, `--db` checking, and how
`main` turns any exception into one line. Imports nothing heavy: `--help`
loads this module."""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.store.url import StoreUrlError, async_url, hide_password, sqlite_path

if TYPE_CHECKING:
    from bot.store import Store


class CliError(Exception):
    """An error the user can act on; `usage` ones (bad arguments) exit with status 2."""

    def __init__(self, message: str, *, usage: bool = True) -> None:
        super().__init__(message)
        self.usage = usage


def store_url(text: str) -> str:
    """argparse `type` of `--db`: plain sqlite:// and postgresql:// URLs mapped to the async drivers."""
    try:
        return async_url(text)
    except StoreUrlError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def existing_store(url: str) -> str:
    """`url`, checked to name a store that exists, for the commands that only
    read one: opening a mistyped SQLite path would create an empty store and
    report that it holds nothing."""
    url = async_url(url)
    path = sqlite_path(url)
    if path is not None and not Path(path).is_file():
        raise CliError(f"no store at {path} (check --db or store.url; `kvm-patchbot run` or `ingest` creates one)")
    return url


# As bot.config's `store.pg_schema` (a lower-case SQL identifier); not imported
# from there, because pydantic is too heavy for `--help`.
_PG_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class StoreTarget:
    """The store a command opens: its URL and, on PostgreSQL, the schema its tables are in."""

    url: str
    schema: str | None = None

    def __str__(self) -> str:
        where = hide_password(self.url)
        return f"{where} (schema {self.schema})" if self.schema else where


def pg_schema(text: str) -> str:
    """argparse `type` of `--pg-schema`."""
    if not _PG_SCHEMA.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a schema name: lower-case letters, digits and _, at most 63")
    return text


def add_store_arguments(p: argparse.ArgumentParser, help: str = "store URL (default: the configured store)") -> None:
    """`--db` and `--pg-schema`, the same on every command that opens a store."""
    p.add_argument("--db", type=store_url, metavar="URL", help=help)
    p.add_argument(
        "--pg-schema",
        type=pg_schema,
        metavar="NAME",
        help="PostgreSQL schema of the store's tables (default: store.pg_schema of the configuration, "
        "unless --db names another store)",
    )


def chosen_store(db: str | None, schema: str | None, config: Path | None = None, *, must_exist: bool = True) -> StoreTarget:
    """The store `--db`/`--pg-schema` name, else the configured one with its
    `pg_schema`: a bot whose tables live in a schema is read where it writes.
    `must_exist`: for the commands that only read a store (see `existing_store`)."""
    if db is None:
        from bot.config import load_settings

        settings = load_settings(config).store
        db, schema = settings.url, schema or settings.pg_schema
    url = existing_store(db) if must_exist else async_url(db)
    if schema is not None and not url.startswith("postgresql"):
        raise CliError("--pg-schema is for PostgreSQL only: an SQLite store has one schema per file")
    return StoreTarget(url, schema)


async def open_store(target: StoreTarget | str) -> Store:
    """The store `target` names; a failure to open it says which store, in one line."""
    from bot.store import Store

    if isinstance(target, str):
        target = StoreTarget(target)
    try:
        return await Store.open(target.url, schema=target.schema)
    except Exception as exc:
        raise CliError(f"cannot open the store {target}: {describe_error(exc)}", usage=False) from exc


def is_usage_error(exc: BaseException) -> bool:
    """Does `exc` say the arguments or the settings are unusable (exit status 2)?"""
    from bot.ingest.record import SourceError

    if isinstance(exc, SourceError | StoreUrlError | argparse.ArgumentTypeError):
        return True
    config = sys.modules.get("bot.config")  # not imported: cannot be one of its errors
    return config is not None and isinstance(exc, config.ConfigError)


def describe_error(exc: BaseException) -> str:
    """One line saying what went wrong, without the traceback.

    A database error names the driver's own message (SQLAlchemy wraps it with
    the statement and a link); an error without a message is named by its type.
    """
    cause = getattr(exc, "orig", None)  # sqlalchemy.exc.DBAPIError
    if isinstance(cause, BaseException) and type(exc).__module__.startswith("sqlalchemy"):
        text = _first_line(str(cause))
        return f"database error: {text}" if text else f"database error: {type(cause).__name__}"
    text = _first_line(str(exc))
    if isinstance(exc, CliError) or is_usage_error(exc):
        return text
    if isinstance(exc, OSError) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= 400 else line[:397] + "..."
    return ""
