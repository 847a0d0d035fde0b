"""The migrations build exactly the schema the store is written against."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.store import Store
from bot.store.schema import metadata


async def test_migrations_match_schema_and_are_idempotent(store_target):
    url, schema = store_target.url, store_target.schema
    store = await Store.open(url, schema=schema)
    await store.close()
    store = await Store.open(url, schema=schema)  # a second start applies nothing new
    try:
        async with store.engine.connect() as conn:

            def diff(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": False})
                return compare_metadata(ctx, metadata), inspect(sync_conn).get_table_names()

            changes, tables = await conn.run_sync(diff)
        assert changes == []
        assert set(metadata.tables) <= set(tables) and "alembic_version" in tables
    finally:
        await store.close()


async def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path):
    store = await Store.open(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    try:
        async with store.engine.connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        assert (mode, fks) == ("wal", 1)
    finally:
        await store.close()
