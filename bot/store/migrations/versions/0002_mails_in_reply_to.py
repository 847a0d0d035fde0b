"""Index mails.in_reply_to: find replies that arrived before the patch they answer.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mails_in_reply_to", "mails", ["in_reply_to"])


def downgrade() -> None:
    op.drop_index("ix_mails_in_reply_to", table_name="mails")
