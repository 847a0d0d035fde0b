"""Alembic environment: runs on the connection `bot.store.migrate` hands over."""

from __future__ import annotations

from alembic import context

from bot.store.schema import include_name, metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()
