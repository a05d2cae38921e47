"""Personal data does not live forever: old payloads become skeletons, and old events can be purged.

Retention (``EDUHOOK_PAYLOAD_RETENTION_DAYS``, run by beat once a day) replaces the payload of a
``succeeded`` or ``ignored`` event received before the cutoff by :func:`skeleton`. ``dead`` events
keep theirs: they wait for a replay, and a replay needs what the webhook said. A purge deletes
events with their attempts; it never deletes effects, which are what make a redelivery safe.

Both work in chunks, one transaction each, over an index, and both are written to the audit
(``replays`` with ``action`` ``retention`` or ``purge``). Running either twice changes nothing more.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from eduhook.ledger import schema
from eduhook.ledger.replays import ReplayLedger

# Retention redacts these; dead events keep their payload until they are replayed or purged.
RETAINED_STATUSES = (schema.SUCCEEDED, schema.IGNORED)
# A purge deletes these by default, and dead events only when asked.
PURGEABLE_STATUSES = (schema.SUCCEEDED, schema.IGNORED, schema.DEAD)
CHUNK = 500

# Envelope keys whose value is eduhook's own routing data, never a person's: the tenant, the
# educator slug, the event type, and a pulled event's source and provider account.
_ENVELOPE_KEYS = frozenset({"tenant_id", "educator", "event", "source", "provider"})


# The ids handlers read from ``event_data`` (handlers/events_data.py), which accepts them as digit
# strings too; any other ``*_id`` is kept only as a JSON number, never as text.
_HANDLER_IDS = frozenset({"id", "student_id", "planned_course_id", "order_id"})


def _is_id(key: str, value: Any) -> bool:
    if not (key == "id" or key.endswith("_id")) or isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return key in _HANDLER_IDS and isinstance(value, str) and value.isdigit() and len(value) <= 20


def skeleton(payload: dict[str, Any]) -> dict[str, Any]:
    """What retention keeps of a payload: the envelope's routing strings, and of each object in it
    (``event_data``, a pulled ``lead``) only its numeric ids (``id``, ``order_id``, ``student_id``,
    ``planned_course_id`` …), which are what a later cancellation or replay reads. Nested objects,
    lists, names, e-mails and free text are dropped, whatever their key."""
    kept: dict[str, Any] = {}
    for key, value in payload.items():
        if key in _ENVELOPE_KEYS and isinstance(value, str):
            kept[key] = value
        elif isinstance(value, dict):
            kept[key] = {k: v for k, v in value.items() if _is_id(str(k), v)}
    return kept


class RetentionLedger:
    """Payload retention and purges over one engine; each chunk is one transaction."""

    def __init__(self, engine: Engine, chunk: int = CHUNK) -> None:
        self.engine = engine
        self.chunk = chunk

    # Retention ----------------------------------------------------------------------------------

    def _unredacted(self, cutoff: dt.datetime) -> sa.ColumnElement[bool]:
        t = schema.events
        # OR rather than IN: the UPDATE that re-checks it runs as executemany, which IN cannot.
        final = sa.or_(*(t.c.status == status for status in RETAINED_STATUSES))
        return sa.and_(final, t.c.received_at < cutoff, t.c.payload_redacted_at.is_(None))

    def count_unredacted(self, cutoff: dt.datetime) -> int:
        """Final events received before ``cutoff`` whose payload is still as received."""
        query = sa.select(sa.func.count()).select_from(schema.events).where(self._unredacted(cutoff))
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def redact_chunk(self, cutoff: dt.datetime, now: dt.datetime, audit_id: int) -> list[str]:
        """Replace the payloads of the next chunk of old final events, counted in the audit entry
        ``audit_id`` in the same transaction; returns their ids."""
        t = schema.events
        with self.engine.begin() as conn:
            query = (
                sa.select(t.c.id, t.c.payload)
                .where(self._unredacted(cutoff))
                .order_by(t.c.status, t.c.received_at)
                .limit(self.chunk)
            )
            rows = conn.execute(_locked(conn, query)).all()
            if not rows:
                return []
            changes = [{"row_id": row.id, "skeleton": _skeleton_text(row.payload)} for row in rows]
            conn.execute(
                t.update()
                .where(t.c.id == sa.bindparam("row_id"), self._unredacted(cutoff))
                .values(payload=sa.bindparam("skeleton"), payload_redacted_at=now),
                changes,
            )
            _count_in_audit(conn, audit_id, len(rows))
        return [row.id for row in rows]

    def apply_retention(
        self,
        cutoff: dt.datetime,
        now: dt.datetime,
        *,
        actor: str,
        reason: str,
        max_chunks: int | None = None,
        time_budget: float | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Redact every old final event, audited when any was. A run stops after ``max_chunks``
        chunks or once ``time_budget`` seconds are spent (between chunks); the next run carries on."""
        audit = ReplayLedger(self.engine)
        audit_id: int | None = None
        total = 0
        chunks = 0
        started = time.monotonic()
        while max_chunks is None or chunks < max_chunks:
            if time_budget is not None and chunks and time.monotonic() - started > time_budget:
                break
            if audit_id is None and not self.count_unredacted(cutoff):
                break
            if audit_id is None:
                selection = {"older_than": cutoff.isoformat(), "statuses": list(RETAINED_STATUSES)}
                audit_id = audit.open_audit(
                    actor=actor, reason=reason, selection=selection, event_ids=[], now=now,
                    action="retention",
                )  # fmt: skip
            done = self.redact_chunk(cutoff, now, audit_id)
            chunks += 1
            if not done:
                break
            total += len(done)
            if progress is not None:
                progress(len(done))
        return total

    # Purges -------------------------------------------------------------------------------------

    def purgeable(self, cutoff: dt.datetime, statuses: Sequence[str]) -> dict[str, int]:
        """How many events a purge would delete, by status."""
        t = schema.events
        query = (
            sa.select(t.c.status, sa.func.count()).where(_purge_filter(cutoff, statuses)).group_by(t.c.status)
        )
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}

    def purge(self, audit_id: int, cutoff: dt.datetime, statuses: Sequence[str]) -> Iterator[int]:
        """Delete matching events and their attempts a chunk at a time; yields each chunk's size."""
        t, a = schema.events, schema.attempts
        where = _purge_filter(cutoff, statuses)
        while True:
            with self.engine.begin() as conn:
                query = sa.select(t.c.id).where(where).order_by(t.c.status, t.c.received_at).limit(self.chunk)
                ids = [row[0] for row in conn.execute(_locked(conn, query))]
                if not ids:
                    return
                conn.execute(a.delete().where(a.c.event_id.in_(ids)))
                deleted = conn.execute(t.delete().where(t.c.id.in_(ids), where)).rowcount
                _count_in_audit(conn, audit_id, deleted)
            yield deleted


def _purge_filter(cutoff: dt.datetime, statuses: Sequence[str]) -> sa.ColumnElement[bool]:
    unknown = set(statuses) - set(PURGEABLE_STATUSES)
    if unknown:  # an event still in flight is never purged: its work is not done
        raise ValueError(f"cannot purge events in status {', '.join(sorted(unknown))}")
    t = schema.events
    return sa.and_(t.c.status.in_(list(statuses)), t.c.received_at < cutoff)


def _locked(conn: Connection, query: sa.Select[Any]) -> sa.Select[Any]:
    """On PostgreSQL, rows another run holds are skipped, so two runs never work on the same ones."""
    if conn.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


def _count_in_audit(conn: Connection, audit_id: int, n: int) -> None:
    """Purges and retention count the events they changed in the audit's ``queued`` column."""
    r = schema.replays
    conn.execute(r.update().where(r.c.id == audit_id).values(queued=r.c.queued + n))


def _skeleton_text(payload: str) -> str:
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError:
        document = None
    return orjson.dumps(skeleton(document) if isinstance(document, dict) else {}).decode()
