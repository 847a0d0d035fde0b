"""Cards taken down when a series stops matching a channel (issue 12).

- deliveries.posted_in: the channel or thread holding `discord_message_id`
  (a patch goes to the series thread, or under the card when the thread
  cannot be used); NULL on rows stored before, where the thread is assumed;
- posts.removals: how many times the series' card was removed from the
  channel. A card posted again after a removal needs nonces of its own:
  Discord answers a reused nonce whose message was deleted with 10008.

Revision ID: 0010_takedown
Revises: 0009_order
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_takedown"
down_revision = "0009_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("posted_in", sa.BigInteger(), nullable=True))
    op.add_column("posts", sa.Column("removals", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("posts") as batch_op:
        batch_op.drop_column("removals")
    with op.batch_alter_table("deliveries") as batch_op:
        batch_op.drop_column("posted_in")
