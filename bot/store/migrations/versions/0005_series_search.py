"""Indexes for the slash commands: full-text search on series titles, stable requests by series.

SQLite: an FTS5 table over series.title (external content: it keeps only the
index) kept current by triggers; the update trigger fires only when the title
changes, so the bulk path's series upserts cost nothing extra. PostgreSQL: the
title's tsvector kept in a generated column with a GIN index. (An expression
index alone made the planner's favourite plan for a rare word, walking the
primary key newest first, recompute the tsvector of every row: 244 ms p99 on
8,000 series; with the stored column the same plan costs under a millisecond,
bench/queries.py.) Both split titles on what is not a letter or a
digit ("KVM: x86/mmu" is kvm, x86, mmu) and do not stem, so a search finds the
same series on either database (`bot.store.queries.title_words`).

A later migration that rebuilds `series` on SQLite (Alembic's batch mode
copies the table) drops these triggers with the old table: it must create
them again and rebuild the index.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

PG_TITLE_TSV = "to_tsvector('simple', regexp_replace(title, '[^[:alnum:]]+', ' ', 'g'))"

_SQLITE = (
    # prefix='2 3': a search word is a prefix ("harv" finds "harvesting"); indexed prefixes make that cheap.
    "CREATE VIRTUAL TABLE series_fts USING fts5(title, content='series', content_rowid='id', prefix='2 3')",
    """CREATE TRIGGER series_fts_insert AFTER INSERT ON series BEGIN
        INSERT INTO series_fts(rowid, title) VALUES (new.id, new.title);
    END""",
    """CREATE TRIGGER series_fts_delete AFTER DELETE ON series BEGIN
        INSERT INTO series_fts(series_fts, rowid, title) VALUES ('delete', old.id, old.title);
    END""",
    """CREATE TRIGGER series_fts_update AFTER UPDATE OF title ON series WHEN old.title IS NOT new.title BEGIN
        INSERT INTO series_fts(series_fts, rowid, title) VALUES ('delete', old.id, old.title);
        INSERT INTO series_fts(rowid, title) VALUES (new.id, new.title);
    END""",
    "INSERT INTO series_fts(series_fts) VALUES ('rebuild')",
)


def upgrade() -> None:
    op.create_index("ix_stable_requests_series_id", "stable_requests", ["series_id"])
    if op.get_bind().dialect.name == "sqlite":
        for statement in _SQLITE:
            op.execute(statement)
    else:
        op.execute(f"ALTER TABLE series ADD COLUMN title_tsv tsvector GENERATED ALWAYS AS ({PG_TITLE_TSV}) STORED")
        op.execute("CREATE INDEX ix_series_title_tsv ON series USING gin (title_tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("series_fts_insert", "series_fts_delete", "series_fts_update"):
            op.execute(f"DROP TRIGGER {name}")
        op.execute("DROP TABLE series_fts")
    else:
        op.execute("DROP INDEX ix_series_title_tsv")
        op.execute("ALTER TABLE series DROP COLUMN title_tsv")
    op.drop_index("ix_stable_requests_series_id", table_name="stable_requests")
