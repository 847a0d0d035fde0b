"""Indexes for the tracker window's look-ups (bot.store.window).

`ix_series_last_seen`: the recently active series loaded at start-up, and the
newest activity the window counts back from. `ix_series_author_lower`: an
author's series by lower-cased email (the tracker compares emails so), for
lineage by title and unthreaded postings; an expression index, so it lives
outside the SQLAlchemy metadata (see `bot.store.schema.include_name`).

Revision ID: 0007_window
Revises: 0006_cards
"""

from alembic import op

revision = "0007_window"
down_revision = "0006_cards"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_series_last_seen", "series", ["last_seen"])
    op.execute("CREATE INDEX ix_series_author_lower ON series (lower(author_email), id)")


def downgrade() -> None:
    op.execute("DROP INDEX ix_series_author_lower")
    op.drop_index("ix_series_last_seen", table_name="series")
