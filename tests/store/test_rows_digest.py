"""The rows a bulk import of real mail writes, to the byte: a digest of every
table against the one the store wrote before its bulk path was sped up.

Work on the bulk path's speed (batching, fewer round trips, work moved to
the parse worker) must not change what is stored: every mail row (its
compressed raw bytes included), series, lineage, patch, trailer, event...
The digest leaves out only the wall-clock columns (`received_at`,
`created_at`: the time of the import). A change that is meant to change
what is stored (a parser or tracker fix, a schema migration) updates the
digests here, saying why in its commit: `python -m tests.store.test_rows_digest
DB` prints a store's digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import sqlite3
import sys
from itertools import islice
from pathlib import Path

import pytest

from bot.ingest.sources import iter_path
from bot.store import Store

pytestmark = pytest.mark.corpus

# Columns whose value is the time of the import.
_CLOCK = {"received_at", "created_at"}
# The first mails of the kvmarm archive: two full batches and a part, in the
# parse worker (POOL_MIN) as a big import runs.
SLICE = 2_600
SLICE_DIGEST = "b7d1d186a0ef549d3875f3f240ff79b66edd67346a4712a99e67780457280b6e"
# The whole archive, as `tests/store/test_corpus.py` imports it once per session.
ARCHIVE_DIGEST = "50c886b134ee95f34876c170812a58782fc64c3c9fabfd01230ff4b319edc734"


def rows_digest(db: Path) -> tuple[str, dict[str, int]]:
    """sha256 over every row of every table (FTS shadow tables aside), and the row counts."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [name for (name,) in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            " AND name NOT LIKE 'series_fts%' AND name != 'alembic_version' ORDER BY name"
        )]
        digest = hashlib.sha256()
        counts: dict[str, int] = {}
        for table in tables:
            columns = [row[1] for row in con.execute(f"PRAGMA table_info({table})") if row[1] not in _CLOCK]
            order = ", ".join(str(i + 1) for i in range(len(columns)))
            digest.update(f"{table}({','.join(columns)})\n".encode())
            counts[table] = 0
            quoted = ", ".join(f'"{c}"' for c in columns)  # "commit" is a keyword
            for row in con.execute(f"SELECT {quoted} FROM {table} ORDER BY {order}"):
                digest.update(repr(row).encode() + b"\n")
                counts[table] += 1
        return digest.hexdigest(), counts
    finally:
        con.close()


def _ingest(records: object, db: Path) -> None:
    async def run() -> None:
        store = await Store.open(f"sqlite+aiosqlite:///{db}")
        try:
            await store.ingest_many(records, source="archive")  # type: ignore[arg-type]
        finally:
            await store.close()

    asyncio.run(run())


def test_kvmarm_slice_rows_are_unchanged(kvmarm_git: Path, tmp_path: Path) -> None:
    db = tmp_path / "slice.db"
    _ingest(islice(iter_path(kvmarm_git), SLICE), db)
    digest, counts = rows_digest(db)
    assert counts["mails"] == SLICE
    assert digest == SLICE_DIGEST, counts


if __name__ == "__main__":
    print(rows_digest(Path(sys.argv[1])))
