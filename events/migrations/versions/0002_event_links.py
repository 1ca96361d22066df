"""Which servers a list-wide event touched, so one server's history is an index lookup.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "event_links",
        sa.Column("stream_id", sa.String(64), primary_key=True),
        sa.Column("position", Position, primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("event_links")
