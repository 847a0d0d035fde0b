"""posts.thread_name: the name a series' thread was last given, kept across restarts.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("thread_name", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch_op:  # SQLite rebuilds the table
        batch_op.drop_column("thread_name")
