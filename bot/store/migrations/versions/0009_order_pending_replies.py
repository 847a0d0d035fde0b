"""pending_replies: applied notices that name a patch not yet arrived.

vger delivers out of order: "Applied [1/3], thanks" on a cover can come
before patch 1. Such a reply is kept here (by Message-ID, with its series)
and decided again when a patch joins that series, so nothing it says is lost,
across restarts too. Derived from the stored mails: `reparse` rebuilds it.

Revision ID: 0009_order
Revises: 0008_scale
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_order"
down_revision = "0008_scale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pending_replies",
        sa.Column("message_id", sa.Text(), primary_key=True),
        sa.Column("series_id", sa.Integer(), nullable=False),
    )
    op.create_index("ix_pending_replies_series_id", "pending_replies", ["series_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_replies_series_id", table_name="pending_replies")
    op.drop_table("pending_replies")
