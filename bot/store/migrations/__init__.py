"""Alembic migrations of the store, applied programmatically by `Store.open`."""
