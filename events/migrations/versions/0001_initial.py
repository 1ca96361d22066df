"""The event log, the server-list read model and idempotency records.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("position", Position, sa.Identity(always=False), primary_key=True),
        sa.Column("stream_id", sa.String(64), nullable=False),
        sa.Column("stream_version", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.SmallInteger, nullable=False),
        sa.Column("data", Json, nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("correlation_id", sa.String(255), nullable=True),
        sa.Column("occurred_at", Timestamp, nullable=False),
        sa.UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_type_position", "events", ["type", "position"])
    op.create_index("ix_events_actor_position", "events", ["actor", "position"])
    op.create_index("ix_events_occurred_at", "events", ["occurred_at"])
    op.create_table(
        "servers",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(100), nullable=False, unique=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("oauth_provider", sa.String(16), nullable=True),
        sa.Column("outgoing_host", sa.String(253), nullable=False),
        sa.Column("outgoing_port", sa.Integer, nullable=False),
        sa.Column("outgoing_encryption", sa.String(16), nullable=False),
        sa.Column("outgoing_auth_method", sa.String(16), nullable=False),
        sa.Column("outgoing_credentials", sa.String(32), nullable=True),
        sa.Column("outgoing_timeout_seconds", sa.Integer, nullable=False),
        sa.Column("incoming_protocol", sa.String(8), nullable=False),
        sa.Column("incoming_host", sa.String(253), nullable=False),
        sa.Column("incoming_port", sa.Integer, nullable=False),
        sa.Column("incoming_use_tls", sa.Boolean, nullable=False),
        sa.Column("incoming_use_apop", sa.Boolean, nullable=False),
        sa.Column("incoming_timeout_seconds", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
    )
    op.create_table(
        "projection_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("position", Position, nullable=False),
        sa.Column("list_version", sa.Integer, nullable=False),
    )
    op.bulk_insert(
        sa.table("projection_state", sa.column("name"), sa.column("position"), sa.column("list_version")),
        [{"name": "mail_servers", "position": 0, "list_version": 0}],
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("actor", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", Json, nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
    )


def downgrade() -> None:
    for table in ("idempotency_keys", "projection_state", "servers", "events"):
        op.drop_table(table)
