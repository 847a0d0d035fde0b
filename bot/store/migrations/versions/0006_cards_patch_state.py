"""Per-patch state for the cards: normalised diff hashes, where a patch was
applied, backport postings, and threads for single patches on request.

- patches.diff_hash / patches.file_hashes: `bot.series.diffhash` of the
  patch's diff, to say which patches of vN are unchanged since v(N-1) (NULL
  on rows stored before: `kvm-patchbot reparse` fills them in);
- applied.dest: the destination as the notice wrote it ("kvm-x86 svm",
  "stable"), where tree and branch cannot say it;
- series.backport: a stable backport posting (AUTOSEL, `[PATCH 6.6 12/40]`);
- subscriptions.single_threads: a thread even for a single patch.

Columns are only added (no table rebuild), so the search triggers of 0005
stay in place.

Revision ID: 0006_cards
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_cards"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("patches", sa.Column("diff_hash", sa.Text(), nullable=True))
    op.add_column("patches", sa.Column("file_hashes", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("applied", sa.Column("dest", sa.Text(), nullable=True))
    op.add_column("series", sa.Column("backport", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column(
        "subscriptions", sa.Column("single_threads", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch_op:
        batch_op.drop_column("single_threads")
    with op.batch_alter_table("applied") as batch_op:
        batch_op.drop_column("dest")
    with op.batch_alter_table("patches") as batch_op:
        batch_op.drop_column("file_hashes")
        batch_op.drop_column("diff_hash")
    op.drop_column("series", "backport")
