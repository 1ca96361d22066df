"""One round trip for a whole append on PostgreSQL: mailreg_append(expected, batch).

It takes the log's write lock (the checkpoint row, held until commit, so
positions are commit-ordered), refuses with NULL when the log has moved past
`expected` (the caller decided on an old state), and otherwise writes the
batch's events, read-model rows, links and idempotency keys, moves the
checkpoint and wakes the feeds. It returns the new events' positions in order.
SQLite keeps its statement-by-statement path and gets no function.

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SERVER_COLUMNS = (
    "code",
    "name",
    "position",
    "oauth_provider",
    "outgoing_host",
    "outgoing_port",
    "outgoing_encryption",
    "outgoing_auth_method",
    "outgoing_credentials",
    "outgoing_timeout_seconds",
    "incoming_protocol",
    "incoming_host",
    "incoming_port",
    "incoming_use_tls",
    "incoming_use_apop",
    "incoming_timeout_seconds",
    "version",
    "created_at",
    "updated_at",
)

_FUNCTION = """
CREATE OR REPLACE FUNCTION mailreg_append(expected bigint, batch jsonb) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    locked bigint;
    positions bigint[];
    newest bigint;
BEGIN
    SELECT position INTO locked FROM projection_state WHERE name = 'mail_servers' FOR UPDATE;
    IF locked IS DISTINCT FROM expected THEN
        RETURN NULL;
    END IF;
    WITH inserted AS (
        INSERT INTO events (stream_id, stream_version, type, schema_version, data, actor, correlation_id, occurred_at)
        SELECT e.stream_id, e.stream_version, e.type, e.schema_version, e.data, e.actor, e.correlation_id,
               e.occurred_at
        FROM ROWS FROM (jsonb_to_recordset(batch -> 'events') AS (
            stream_id text, stream_version int, type text, schema_version smallint, data jsonb, actor text,
            correlation_id text, occurred_at timestamptz)
        ) WITH ORDINALITY
          AS e(stream_id, stream_version, type, schema_version, data, actor, correlation_id, occurred_at, n)
        ORDER BY e.n
        RETURNING position
    )
    SELECT coalesce(array_agg(position ORDER BY position), '{}') INTO positions FROM inserted;
    IF jsonb_array_length(batch -> 'replace') > 0 THEN
        DELETE FROM servers WHERE id IN (SELECT jsonb_array_elements_text(batch -> 'replace'));
    END IF;
    IF jsonb_array_length(batch -> 'rows') > 0 THEN
        INSERT INTO servers SELECT * FROM jsonb_populate_recordset(NULL::servers, batch -> 'rows')
        ON CONFLICT (id) DO UPDATE SET __UPDATES__;
    END IF;
    IF jsonb_array_length(batch -> 'links') > 0 THEN
        INSERT INTO event_links (stream_id, position)
        SELECT l.stream_id, positions[l.event]
        FROM jsonb_to_recordset(batch -> 'links') AS l(stream_id text, event int);
    END IF;
    IF jsonb_array_length(batch -> 'keys') > 0 THEN
        INSERT INTO idempotency_keys SELECT * FROM jsonb_populate_recordset(NULL::idempotency_keys, batch -> 'keys');
    END IF;
    IF cardinality(positions) > 0 THEN
        newest := positions[cardinality(positions)];
        UPDATE projection_state
        SET position = newest, list_version = (batch ->> 'list_version')::int,
            last_occurred_at = (batch ->> 'last_occurred_at')::timestamptz
        WHERE name = 'mail_servers';
        PERFORM pg_notify('mailreg_events', newest::text);
    END IF;
    RETURN positions;
END
$$
""".replace("__UPDATES__", ", ".join(f"{c} = EXCLUDED.{c}" for c in _SERVER_COLUMNS))


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS mailreg_append(bigint, jsonb)")
