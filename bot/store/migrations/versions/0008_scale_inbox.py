"""The inbox: mail a process took over SMTP while another process tracks.

With several `kvm-patchbot run` processes on one PostgreSQL, only the one
holding the tracking lock (bot.store.pgsession) decides series; the others
commit each mail's raw bytes here before answering 250, and the tracker takes
them in id (arrival) order, then deletes them. Ingesting a stored Message-ID
again changes nothing, so a tracker that dies between the two repeats nothing.

Revision ID: 0008_scale
Revises: 0007_window
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_scale"
down_revision = "0007_window"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbox"),
    )


def downgrade() -> None:
    op.drop_table("inbox")
