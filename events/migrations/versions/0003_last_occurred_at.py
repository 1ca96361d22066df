"""Remember the newest event's time so that occurred_at never goes backwards.

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
    with op.batch_alter_table("projection_state") as batch:
        batch.add_column(sa.Column("last_occurred_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("projection_state") as batch:
        batch.drop_column("last_occurred_at")
