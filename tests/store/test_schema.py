"""The migrations build exactly the schema the store is written against."""

from __future__ import annotations

import pytest

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from bot.store import Store
from bot.store.schema import include_name, metadata


# SQLAlchemy cannot reflect SQLite's expression index (it lives outside the
# metadata on purpose: bot.store.schema.include_name); it says so, and is right.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index ix_series_author_lower")
async def test_migrations_match_schema_and_are_idempotent(store_target):
    url, schema = store_target.url, store_target.schema
    store = await Store.open(url, schema=schema)
    await store.close()
    store = await Store.open(url, schema=schema)  # a second start applies nothing new
    try:
        async with store.engine.connect() as conn:

            def diff(sync_conn):  # type: ignore[no-untyped-def]
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": False, "include_name": include_name})
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


async def test_a_database_of_an_older_revision_is_upgraded_with_its_rows(store_target):
    """A store made before posts.thread_name (revision 0002) opens, its posts intact."""
    from alembic import command

    from bot.store.engine import make_engine
    from bot.store.migrate import alembic_config

    engine = make_engine(store_target.url, schema=store_target.schema)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "0002"))
            await conn.execute(text("INSERT INTO posts (series_id, channel_id, card_message_id, thread_id, "
                                    "rendered_hash) VALUES (7, 10, 70, 71, 'h')"))
    finally:
        await engine.dispose()
    store = await Store.open(store_target.url, schema=store_target.schema)
    try:
        post = await store.get_post(7, 10)
        assert post is not None and (post.card_message_id, post.thread_id, post.rendered_hash) == (70, 71, "h")
        assert post.thread_name is None  # unknown until the thread is next renamed
    finally:
        await store.close()
