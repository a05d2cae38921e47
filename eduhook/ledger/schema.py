"""Table definitions (SQLAlchemy Core) shared by SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()

# Event statuses, the words every part of eduhook uses (see docs/architecture.md).
RECEIVED = "received"
QUEUED = "queued"
PROCESSING = "processing"
SUCCEEDED = "succeeded"
IGNORED = "ignored"
FAILED = "failed"
DEAD = "dead"
EVENT_STATUSES = (RECEIVED, QUEUED, PROCESSING, SUCCEEDED, IGNORED, FAILED, DEAD)
FINAL_STATUSES = (SUCCEEDED, IGNORED, DEAD)


class UTCDateTime(sa.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the ledger; use UTC-aware datetimes")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        assert isinstance(value, dt.datetime)
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("source", sa.String(32), nullable=False, server_default="eduframe"),
    sa.Column("educator", sa.String(128), nullable=False),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(128), nullable=False),
    sa.Column("dedup_key", sa.String(64), nullable=False, unique=True),
    sa.Column("payload", sa.Text, nullable=False),  # the webhook body as received (JSON text)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("status_reason", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_class", sa.String(32)),
    # Where the last failure came from, kept on the event so dead letters filter without a join.
    sa.Column("last_partner", sa.String(32)),
    sa.Column("last_http_status", sa.Integer),
    sa.Column("last_partner_code", sa.String(32)),
    # Attempts made before the last replay: the retry budget counts only the attempts after it.
    sa.Column("retry_base", sa.Integer, nullable=False, server_default="0"),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # When retention replaced the payload by its skeleton (eduhook/ledger/retention.py); None: as received.
    sa.Column("payload_redacted_at", UTCDateTime),
    sa.Index("ix_events_status_next", "status", "next_attempt_at"),
    sa.Index("ix_events_status_received", "status", "received_at"),
    sa.Index("ix_events_type", "event_type"),
    sa.Index("ix_events_educator", "educator"),
    sa.Index("ix_events_received_at", "received_at"),
    # Retention's daily scan reads only the payloads it has not redacted yet, however long the history.
    sa.Index(
        "ix_events_unredacted",
        "status",
        "received_at",
        postgresql_where=sa.text("payload_redacted_at IS NULL"),
        sqlite_where=sa.text("payload_redacted_at IS NULL"),
    ),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(36), sa.ForeignKey("events.id"), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(255)),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("outcome", sa.String(16)),
    sa.Column("error_class", sa.String(32)),
    sa.Column("error_message", sa.Text),
    sa.Column("partner", sa.String(32)),
    sa.Column("http_status", sa.Integer),
    sa.Column("partner_code", sa.String(32)),
    sa.Index("ix_attempts_event", "event_id", "number"),
)

# One row per partner side effect: a stable key and its generation (a cancelled effect may be made
# again, as generation 2, …), with the Eduframe resource that caused it. What makes retries,
# redeliveries, overlapping events and re-enrollments safe.
effects = sa.Table(
    "effects",
    metadata,
    sa.Column("key", sa.String(255), primary_key=True),
    sa.Column("generation", sa.Integer, primary_key=True, autoincrement=False, server_default="1"),
    sa.Column("partner", sa.String(32), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("educator", sa.String(128), nullable=False),
    sa.Column("subject", sa.String(128), nullable=False),
    sa.Column("target", sa.String(255), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("event_id", sa.String(36)),
    sa.Column("result", sa.JSON),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Provenance: what in Eduframe this effect answers (order, enrollment or transfer, and its ids).
    sa.Column("source_kind", sa.String(16)),
    sa.Column("source_enrollment_id", sa.BigInteger),
    sa.Column("source_order_id", sa.BigInteger),
    sa.Column("source_planned_course_id", sa.BigInteger),
    # An undo effect (a Penn Foster cancel, an Appsembler unenroll) names the key it undoes, at the
    # same generation; once it is done, that effect is ``cancelled`` with this ``cancellation``.
    sa.Column("undoes", sa.String(255)),
    sa.Column("cancellation", sa.JSON),
    sa.Index("ix_effects_subject", "educator", "subject"),
    sa.Index("ix_effects_state", "state"),
)

# The audit of operator actions on events: who replayed what, when and why.
replays = sa.Table(
    "replays",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    # What was done: ``replay``, ``purge`` (events deleted) or ``retention`` (payloads redacted).
    sa.Column("action", sa.String(16), nullable=False, server_default="replay"),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("selection", sa.JSON, nullable=False),  # the ids or the filter the operator gave
    sa.Column("event_ids", sa.JSON, nullable=False),
    sa.Column("queued", sa.Integer, nullable=False),
    sa.Column("skipped", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_replays_created_at", "created_at"),
)

# Where each polling source (``sources/``) has read up to: a position it moves forward only, the
# ids already read at that position, and its consecutive failures of one kind (clock skew).
cursors = sa.Table(
    "cursors",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("position", sa.String(64), nullable=False),  # ISO date or timestamp: sorts as it reads
    sa.Column("seen", sa.Text, nullable=False),  # JSON array of the ids read at ``position``
    sa.Column("failures", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)
