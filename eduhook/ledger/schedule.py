"""The ledger side of the scheduler: due retries, lost messages and attempts of dead workers.

Every query moves the events it picks to ``queued`` in the same statement that picks them, so
two schedulers never take the same event: on PostgreSQL the pick skips rows another
transaction holds (``FOR UPDATE SKIP LOCKED``); SQLite runs one writer at a time anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from eduhook.ledger import schema
from eduhook.ledger.lost import abandon_open_attempt, lost_attempts, mark_lost_for_good


@dataclass
class Recovered:
    """What a sweep for lost workers did: events to queue again, and events now dead."""

    requeued: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)


class ScheduleLedger:
    """The scheduler's queries; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"

    def _pick(self, query: sa.Select[tuple[str]]) -> sa.Select[tuple[str]]:
        return query.with_for_update(skip_locked=True) if self.postgres else query

    def claim_due(self, now: dt.datetime, limit: int = 500) -> list[str]:
        """``failed`` events whose retry is due → ``queued``, oldest due first; their ids."""
        t = schema.events
        due = sa.and_(t.c.status == schema.FAILED, t.c.next_attempt_at <= now)
        if not self._any(due):
            return []
        pick = self._pick(sa.select(t.c.id).where(due).order_by(t.c.next_attempt_at).limit(limit))
        return self._move(sa.and_(due, t.c.id.in_(pick.scalar_subquery())), now)

    def requeue_stale(self, older_than: dt.datetime, now: dt.datetime, limit: int = 500) -> list[str]:
        """``queued`` events no attempt has started on since ``older_than``: their message was lost.

        Their ``updated_at`` is reset, so each is queued again once per period, not every sweep.
        """
        t = schema.events
        stale = sa.and_(t.c.status == schema.QUEUED, t.c.updated_at < older_than)
        if not self._any(stale):
            return []
        pick = self._pick(sa.select(t.c.id).where(stale).order_by(t.c.updated_at).limit(limit))
        return self._move(sa.and_(stale, t.c.id.in_(pick.scalar_subquery())), now)

    def unclaim(self, event_ids: Sequence[str], now: dt.datetime) -> None:
        """Queued retries whose message could not be published wait for the next scheduler run."""
        t = schema.events
        if not event_ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.id.in_(list(event_ids)), t.c.status == schema.QUEUED)
                .values(status=schema.FAILED, updated_at=now)
            )

    def recover_abandoned(
        self, older_than: dt.datetime, now: dt.datetime, *, max_abandoned: int, limit: int = 200
    ) -> Recovered:
        """``processing`` events whose open attempt started before ``older_than``: the worker died.

        The attempt is closed as abandoned. The event is queued again, or goes dead once its
        workers were lost ``max_abandoned`` times since its last replay.
        """
        t, a = schema.events, schema.attempts
        open_attempt = sa.and_(a.c.event_id == t.c.id, a.c.number == t.c.attempts, a.c.finished_at.is_(None))
        query = (
            sa.select(t.c.id, t.c.retry_base)
            .join(a, open_attempt)
            .where(t.c.status == schema.PROCESSING, a.c.started_at < older_than)
            .limit(limit)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True, of=t)
        recovered = Recovered()
        with self.engine.begin() as conn:
            for event_id, retry_base in conn.execute(query).all():
                if not abandon_open_attempt(conn, event_id, older_than=older_than, now=now):
                    continue  # another scheduler run closed it first: it queued the event
                if lost_attempts(conn, event_id, after=retry_base) >= max_abandoned:
                    mark_lost_for_good(conn, event_id, max_abandoned, now)
                    recovered.dead.append(event_id)
                else:
                    self._set_queued(conn, [event_id], now)
                    recovered.requeued.append(event_id)
        return recovered

    def _any(self, condition: sa.ColumnElement[bool]) -> bool:
        """A read-only look first: most runs find nothing, and then take no write lock at all."""
        t = schema.events
        with self.engine.connect() as conn:
            return conn.execute(sa.select(t.c.id).where(condition).limit(1)).first() is not None

    def _move(self, condition: sa.ColumnElement[bool], now: dt.datetime) -> list[str]:
        t = schema.events
        update = t.update().where(condition).values(status=schema.QUEUED, updated_at=now).returning(t.c.id)
        with self.engine.begin() as conn:
            return [row[0] for row in conn.execute(update)]

    @staticmethod
    def _set_queued(conn: Connection, event_ids: list[str], now: dt.datetime) -> None:
        t = schema.events
        conn.execute(t.update().where(t.c.id.in_(event_ids)).values(status=schema.QUEUED, updated_at=now))
