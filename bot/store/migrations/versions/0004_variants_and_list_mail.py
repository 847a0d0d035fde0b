"""Mail kept beside the list traffic: variants of a known Message-ID, and
list-management mail (subscription confirmations, bounces); and an index for
the deliveries made since the last metrics scrape.

mails.body_hash lets a re-delivery be told from a variant without unpacking
the stored raw bytes; rows stored before this revision have none, and the
store computes it from their raw bytes when it needs it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mails", sa.Column("body_hash", sa.Text(), nullable=True))
    op.create_table(
        "mail_variants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("body_hash", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_mail_variants"),
        sa.UniqueConstraint("message_id", "body_hash", name="uq_mail_variants_key"),
    )
    op.create_table(
        "list_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mail_from", sa.Text(), nullable=False),
        sa.Column("sender", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_list_mail"),
    )


    op.create_index("ix_deliveries_updated_at", "deliveries", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_updated_at", table_name="deliveries")
    op.drop_table("list_mail")
    op.drop_table("mail_variants")
    with op.batch_alter_table("mails") as batch_op:  # SQLite rebuilds the table
        batch_op.drop_column("body_hash")
