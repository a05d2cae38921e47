"""Attempts whose worker died: closing them as abandoned, and the poison cap.

Used inside the caller's transaction by ``begin_attempt`` (a redelivered message) and by the
sweeper (``ScheduleLedger.recover_abandoned``), so both count lost workers the same way.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from eduhook.ledger import schema

ABANDONED = "abandoned"
LOST = "lost"  # the error class of an abandoned attempt


def abandon_open_attempt(
    conn: Connection, event_id: str, *, older_than: dt.datetime, now: dt.datetime
) -> bool:
    """Close the event's open attempt if it started before ``older_than``.

    False when the open attempt is younger: its worker may well be alive, so leave it be.
    """
    a = schema.attempts
    open_attempt = sa.and_(a.c.event_id == event_id, a.c.finished_at.is_(None))
    started = conn.execute(sa.select(sa.func.max(a.c.started_at)).where(open_attempt)).scalar()
    if started is not None and started >= older_than:
        return False
    conn.execute(
        a.update()
        .where(open_attempt)
        .values(
            finished_at=now,
            outcome=ABANDONED,
            error_class=LOST,
            error_message="worker stopped before the attempt finished",
        )
    )
    return True


def lost_attempts(conn: Connection, event_id: str, *, after: int) -> int:
    """Abandoned attempts numbered above ``after`` (the attempts before the last replay)."""
    a = schema.attempts
    query = sa.select(sa.func.count()).where(
        a.c.event_id == event_id, a.c.outcome == ABANDONED, a.c.number > after
    )
    return int(conn.execute(query).scalar() or 0)


def mark_lost_for_good(conn: Connection, event_id: str, times: int, now: dt.datetime) -> None:
    """An event that took its worker down ``times`` times goes dead instead of crash-looping the fleet."""
    t = schema.events
    conn.execute(
        t.update()
        .where(t.c.id == event_id)
        .values(
            status=schema.DEAD,
            status_reason=f"worker lost {times} times",
            last_error=f"worker lost {times} times while processing this event",
            last_error_class=LOST,
            last_partner=None,
            last_http_status=None,
            last_partner_code=None,
            next_attempt_at=None,
            updated_at=now,
        )
    )
