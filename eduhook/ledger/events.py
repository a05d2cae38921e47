"""Reading and writing events and their attempts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from eduhook.ledger import schema
from eduhook.ledger.cursors import Cursor
from eduhook.ledger.fastpath import FastPath
from eduhook.ledger.filters import EventFilter
from eduhook.ledger.lost import abandon_open_attempt, lost_attempts, mark_lost_for_good

# Bound parameters per IN (…) query: far below SQLite's and PostgreSQL's limits.
_KEYS_PER_QUERY = 500


@dataclass(frozen=True)
class NewEvent:
    """An event as the receiver (or a source that pulls what no webhook brought) hands it to the ledger."""

    id: str
    educator: str
    tenant_id: str
    event_type: str
    dedup_key: str
    payload: str  # the webhook body as received: JSON text
    status: str
    status_reason: str | None
    received_at: dt.datetime
    source: str = "eduframe"  # who brought it: "eduframe" (a webhook) or a source in sources/

    def __repr__(self) -> str:  # the payload carries personal data
        return f"NewEvent(id={self.id!r}, type={self.event_type!r}, educator={self.educator!r})"


@dataclass(frozen=True)
class StoredEvent:
    """What the ledger holds for a dedup key after an insert: ours, or the original."""

    id: str
    status: str
    duplicate: bool


@dataclass(frozen=True)
class EventRecord:
    """An event row as read back from the ledger."""

    id: str
    source: str
    educator: str
    tenant_id: str
    event_type: str
    payload: dict[str, Any]
    status: str
    status_reason: str | None
    attempts: int
    next_attempt_at: dt.datetime | None
    last_error: str | None
    last_error_class: str | None
    received_at: dt.datetime
    updated_at: dt.datetime
    last_partner: str | None = None
    last_http_status: int | None = None
    last_partner_code: str | None = None
    retry_base: int = 0
    payload_redacted_at: dt.datetime | None = None  # set once retention replaced the payload

    @property
    def attempts_in_budget(self) -> int:
        """Attempts since the last replay: what the retry policy counts."""
        return self.attempts - self.retry_base

    @property
    def data(self) -> dict[str, Any]:
        """The ``event_data`` object of the webhook envelope."""
        data = self.payload.get("event_data", {})
        return data if isinstance(data, dict) else {}

    def __repr__(self) -> str:
        return (
            f"EventRecord(id={self.id!r}, type={self.event_type!r}, educator={self.educator!r},"
            f" status={self.status!r}, attempts={self.attempts})"
        )


@dataclass(frozen=True)
class AttemptRecord:
    number: int
    worker: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None
    outcome: str | None
    error_class: str | None
    error_message: str | None
    partner: str | None
    http_status: int | None
    partner_code: str | None


# The last error's class of an event protection held back (handlers/protection): it waits for
# the partner, and the attempt that found the partner held back was undone (``defer_attempt``).
DEFERRED = "deferred"


@dataclass(frozen=True)
class AttemptOutcome:
    """How one processing attempt ended, as the worker reports it."""

    status: str  # the event's new status
    outcome: str  # the attempt's outcome: succeeded | ignored | failed
    reason: str | None = None
    error_class: str | None = None
    error_message: str | None = None
    partner: str | None = None
    http_status: int | None = None
    partner_code: str | None = None
    next_attempt_at: dt.datetime | None = None


class EventLedger:
    """The events and attempts tables behind one engine. Every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._fast = FastPath(engine)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def refuses_data(self, exc: BaseException) -> bool:
        """True when ``exc`` is the database refusing a value (PEP 249's DataError), as opposed to
        the database being unavailable or failing: a retry of the same row cannot succeed."""
        dbapi_data_error = getattr(self.engine.dialect.dbapi, "DataError", None)
        kinds = (sa.exc.DataError,) + ((dbapi_data_error,) if isinstance(dbapi_data_error, type) else ())
        return isinstance(exc, kinds)

    def unreachable(self, exc: BaseException) -> bool:
        """True when ``exc`` says the database cannot be reached (PEP 249's OperationalError or
        InterfaceError): further writes would fail the same way."""
        dbapi = self.engine.dialect.dbapi
        kinds: tuple[type, ...] = (sa.exc.OperationalError, sa.exc.InterfaceError)
        for name in ("OperationalError", "InterfaceError"):
            kind = getattr(dbapi, name, None)
            if isinstance(kind, type):
                kinds += (kind,)
        return isinstance(exc, kinds)

    # Receiver side ---------------------------------------------------------------------------

    def insert_batch(
        self,
        batch: Sequence[NewEvent],
        *,
        mark_queued: Sequence[str] = (),
        now: dt.datetime | None = None,
        cursor: Cursor | None = None,
    ) -> list[StoredEvent]:
        """Insert events in one transaction; a known dedup key yields the original event instead.

        ``mark_queued``: ids of earlier events now on the broker, marked in the same transaction.
        ``cursor``: a polling source's new position, written with its events or not at all.
        """
        if cursor is not None:
            stored = self._fast.insert_batch(batch, mark_queued=mark_queued, now=now, cursor=cursor)
            return [_stored(e, stored) for e in batch]
        if not batch:
            if mark_queued and now is not None:
                self.mark_queued(mark_queued, now)
            return []
        stored = self._fast.insert_batch(batch, mark_queued=mark_queued, now=now)
        return [_stored(e, stored) for e in batch]

    def known_dedup_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of ``keys`` the ledger already holds, for sources that count before they record."""
        t = schema.events
        known: set[str] = set()
        unique = list(dict.fromkeys(keys))
        with self.engine.connect() as conn:
            for start in range(0, len(unique), _KEYS_PER_QUERY):
                chunk = unique[start : start + _KEYS_PER_QUERY]
                known.update(conn.execute(sa.select(t.c.dedup_key).where(t.c.dedup_key.in_(chunk))).scalars())
        return known

    def mark_queued(self, event_ids: Sequence[str], now: dt.datetime) -> int:
        """``received`` → ``queued`` once the broker holds the message; later states are left alone."""
        return self._fast.mark_queued(event_ids, now) if event_ids else 0

    def unqueued(self, older_than: dt.datetime, limit: int = 500) -> list[str]:
        """Events recorded but never queued (the broker was down): what a sweeper re-queues."""
        t = schema.events
        query = (
            sa.select(t.c.id)
            .where(t.c.status == schema.RECEIVED, t.c.received_at < older_than)
            .order_by(t.c.received_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    # Worker side -----------------------------------------------------------------------------

    def begin_attempt(
        self,
        event_id: str,
        worker: str,
        now: dt.datetime,
        *,
        abandon_after: dt.timedelta = dt.timedelta(seconds=330),
        max_abandoned: int = 3,
    ) -> tuple[EventRecord, int] | None:
        """Mark the event processing and open an attempt row; None if there is nothing to run.

        Only ``received`` and ``queued`` events start; so does a ``processing`` one whose open
        attempt is older than ``abandon_after`` (its worker died: the attempt is closed as
        abandoned). Anything else is a duplicate message: finished, dead, waiting for its retry
        (the scheduler queues it when due), or being worked on by a live worker.
        """
        t = schema.events
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == event_id).with_for_update()).mappings().first()
            if row is None or row["status"] not in (schema.RECEIVED, schema.QUEUED, schema.PROCESSING):
                return None
            if row["status"] == schema.PROCESSING:
                if not abandon_open_attempt(conn, event_id, older_than=now - abandon_after, now=now):
                    return None
                if lost_attempts(conn, event_id, after=row["retry_base"]) >= max_abandoned:
                    mark_lost_for_good(conn, event_id, max_abandoned, now)
                    return None
            number = int(row["attempts"]) + 1
            conn.execute(
                t.update()
                .where(t.c.id == event_id)
                .values(status=schema.PROCESSING, attempts=number, next_attempt_at=None, updated_at=now)
            )
            conn.execute(
                schema.attempts.insert().values(
                    event_id=event_id, number=number, worker=worker, started_at=now
                )
            )
            record = _event(
                dict(row)
                | {
                    "status": schema.PROCESSING,
                    "attempts": number,
                    "next_attempt_at": None,
                    "updated_at": now,
                }
            )
        return record, number

    def finish_attempt(self, event_id: str, number: int, outcome: AttemptOutcome, now: dt.datetime) -> bool:
        """Record how attempt ``number`` ended; False if the attempt was given up on meanwhile.

        An attempt the sweeper abandoned (its worker looked dead) may still finish: its outcome
        is kept on the attempt row, but the event belongs to the newer attempt and is left alone.
        """
        t, a = schema.events, schema.attempts
        with self.engine.begin() as conn:
            conn.execute(
                a.update()
                .where(a.c.event_id == event_id, a.c.number == number)
                .values(
                    finished_at=now,
                    outcome=outcome.outcome,
                    error_class=outcome.error_class,
                    error_message=outcome.error_message,
                    partner=outcome.partner,
                    http_status=outcome.http_status,
                    partner_code=outcome.partner_code,
                )
            )
            changed = conn.execute(
                t.update()
                .where(t.c.id == event_id, t.c.attempts == number, t.c.status == schema.PROCESSING)
                .values(
                    status=outcome.status,
                    status_reason=outcome.reason,
                    last_error=outcome.error_message,
                    last_error_class=outcome.error_class,
                    last_partner=outcome.partner,
                    last_http_status=outcome.http_status,
                    last_partner_code=outcome.partner_code,
                    next_attempt_at=outcome.next_attempt_at,
                    updated_at=now,
                )
            )
        return bool(changed.rowcount)

    def defer_attempt(
        self,
        event_id: str,
        number: int,
        *,
        until: dt.datetime,
        message: str,
        partner: str | None,
        now: dt.datetime,
    ) -> bool:
        """Undo attempt ``number``: protection held a partner call back, so it was no attempt.

        The attempt row goes and the count steps back, so the retry budget, ``dlq`` and every
        figure of attempts are as if the worker had never started it. The event waits,
        ``failed`` with ``last_error_class = deferred``, until ``until``. False if the attempt
        was given up on meanwhile (see ``finish_attempt``).
        """
        t, a = schema.events, schema.attempts
        with self.engine.begin() as conn:
            changed = conn.execute(
                t.update()
                .where(t.c.id == event_id, t.c.attempts == number, t.c.status == schema.PROCESSING)
                .values(
                    status=schema.FAILED,
                    attempts=number - 1,
                    next_attempt_at=until,
                    status_reason=None,
                    last_error=message,
                    last_error_class=DEFERRED,
                    last_partner=partner,
                    last_http_status=None,
                    last_partner_code=None,
                    updated_at=now,
                )
            )
            if changed.rowcount:
                conn.execute(a.delete().where(a.c.event_id == event_id, a.c.number == number))
        return bool(changed.rowcount)

    # Operators -------------------------------------------------------------------------------

    def get(self, event_id: str) -> EventRecord | None:
        t = schema.events
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.id == event_id)).mappings().first()
        return None if row is None else _event(dict(row))

    def search(
        self,
        *,
        status: str | None = None,
        event_type: str | None = None,
        educator: str | None = None,
        limit: int = 50,
        where: EventFilter | None = None,
    ) -> list[EventRecord]:
        t = schema.events
        selection = where or EventFilter()
        if status or event_type or educator:
            selection = replace(selection, status=status or selection.status,
                                event_type=event_type or selection.event_type,
                                educator=educator or selection.educator)  # fmt: skip
        query = selection.apply(sa.select(t)).order_by(t.c.received_at.desc(), t.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [_event(dict(row)) for row in conn.execute(query).mappings()]

    def attempts(self, event_id: str) -> list[AttemptRecord]:
        a = schema.attempts
        query = sa.select(a).where(a.c.event_id == event_id).order_by(a.c.number)
        with self.engine.connect() as conn:
            return [
                AttemptRecord(**{k: v for k, v in row.items() if k not in ("id", "event_id")})
                for row in conn.execute(query).mappings()
            ]

    def count_by_status(self) -> dict[str, int]:
        t = schema.events
        query = sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
        with self.engine.connect() as conn:
            return {status: int(n) for status, n in conn.execute(query)}


def _stored(event: NewEvent, stored: dict[str, tuple[str, str]]) -> StoredEvent:
    event_id, status = stored[event.dedup_key]
    return StoredEvent(id=event_id, status=status, duplicate=event_id != event.id)


def _event(row: dict[str, Any]) -> EventRecord:
    row.pop("dedup_key", None)
    payload = row["payload"]
    row["payload"] = orjson.loads(payload) if isinstance(payload, str | bytes) else payload
    return EventRecord(**row)
