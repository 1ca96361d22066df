"""Table definitions: the append-only log, the read model, and idempotency records."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from domain.values import MAX_HOST_LENGTH, MAX_LABEL_LENGTH

metadata = sa.MetaData()

Json = sa.JSON().with_variant(JSONB(), "postgresql")
Position = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)

events = sa.Table(
    "events",
    metadata,
    # On SQLite an INTEGER PRIMARY KEY AUTOINCREMENT never reuses a rowid; on
    # PostgreSQL the identity is drawn only under the table lock (see store.py).
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
    sa.Index("ix_events_type_position", "type", "position"),
    sa.Index("ix_events_actor_position", "actor", "position"),
    sa.Index("ix_events_occurred_at", "occurred_at"),
    sa.Index("ix_events_stream_position", "stream_id", "position"),
    sqlite_autoincrement=True,
)

servers = sa.Table(
    "servers",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("code", sa.String(MAX_LABEL_LENGTH), nullable=False, unique=True),
    sa.Column("name", sa.String(MAX_LABEL_LENGTH), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("oauth_provider", sa.String(16), nullable=True),
    sa.Column("outgoing_host", sa.String(MAX_HOST_LENGTH), nullable=False),
    sa.Column("outgoing_port", sa.Integer, nullable=False),
    sa.Column("outgoing_encryption", sa.String(16), nullable=False),
    sa.Column("outgoing_auth_method", sa.String(16), nullable=False),
    sa.Column("outgoing_credentials", sa.String(32), nullable=True),
    sa.Column("outgoing_timeout_seconds", sa.Integer, nullable=False),
    sa.Column("incoming_protocol", sa.String(8), nullable=False),
    sa.Column("incoming_host", sa.String(MAX_HOST_LENGTH), nullable=False),
    sa.Column("incoming_port", sa.Integer, nullable=False),
    sa.Column("incoming_use_tls", sa.Boolean, nullable=False),
    sa.Column("incoming_use_apop", sa.Boolean, nullable=False),
    sa.Column("incoming_timeout_seconds", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
)

projection_state = sa.Table(
    "projection_state",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("position", Position, nullable=False),
    sa.Column("list_version", sa.Integer, nullable=False),
    sa.Column("last_occurred_at", Timestamp, nullable=True),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("actor", sa.String(255), primary_key=True),
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("response", Json, nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
)

# A list-wide event (reorder, delete all) is linked to every server it touched.
event_links = sa.Table(
    "event_links",
    metadata,
    sa.Column("stream_id", sa.String(64), primary_key=True),
    sa.Column("position", Position, primary_key=True),
)

# The folded list just after the event at `position` (the last event at or
# below a multiple of the snapshot interval); stream_id/stream_version name
# that event, so a snapshot of another log is never taken for this one.
history_snapshots = sa.Table(
    "history_snapshots",
    metadata,
    sa.Column("position", Position, primary_key=True),
    sa.Column("stream_id", sa.String(64), nullable=False),
    sa.Column("stream_version", sa.Integer, nullable=False),
    sa.Column("list_version", sa.Integer, nullable=False),
    sa.Column("checksum", sa.String(64), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
)

SERVER_LIST = "mail_servers"
"""The name of the server-list projection in projection_state."""
