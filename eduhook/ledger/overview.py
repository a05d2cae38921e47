"""The ledger at a glance, for ``eduhook status`` and the receiver's ``/metrics``: events by status,
the oldest one waiting, and the retries and dead letters by partner.

The count by status reads the whole ``ix_events_status_received`` index (a sequential scan on
PostgreSQL), so its time grows with the ledger: about 50-70 ms at 100,000 events (``bench.metrics``).
Every other query walks an index (``ix_events_status_next``, ``ix_events_status_received``) over
the rows of one or a few statuses only.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from eduhook.ledger import schema
from eduhook.ledger.events import DEFERRED

# Not final and not waiting for a scheduled retry: on its way to a worker, or with one.
PENDING = (schema.RECEIVED, schema.QUEUED, schema.PROCESSING)


@dataclass(frozen=True)
class Overview:
    by_status: dict[str, int]
    retrying: int  # ``failed`` events: a next attempt is scheduled
    due: int  # of which due now (the scheduler queues them on its next run)
    deferred: int  # of which wait for a partner's budget or breaker, not after a failure
    oldest_pending: dt.datetime | None = None  # the receipt of the oldest pending event
    due_by_partner: dict[str, int] = field(default_factory=dict)  # "" for no partner
    dead_by_partner: dict[str, int] = field(default_factory=dict)

    @property
    def dead(self) -> int:
        return self.by_status.get(schema.DEAD, 0)

    def oldest_pending_seconds(self, now: dt.datetime) -> float:
        return 0.0 if self.oldest_pending is None else max(0.0, (now - self.oldest_pending).total_seconds())


def overview(engine: Engine, now: dt.datetime) -> Overview:
    t = schema.events
    failed = t.c.status == schema.FAILED
    partner = sa.func.coalesce(t.c.last_partner, "")
    with engine.connect() as conn:
        by_status = {status: int(n) for status, n in conn.execute(
            sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
        )}  # fmt: skip
        due_by_partner = {p: int(n) for p, n in conn.execute(
            sa.select(partner, sa.func.count()).where(failed, t.c.next_attempt_at <= now).group_by(partner)
        )}  # fmt: skip
        deferred = conn.execute(
            sa.select(sa.func.count()).where(failed, t.c.last_error_class == DEFERRED)
        ).scalar()
        dead_by_partner = {p: int(n) for p, n in conn.execute(
            sa.select(partner, sa.func.count()).where(t.c.status == schema.DEAD).group_by(partner)
        )}  # fmt: skip
        oldest = conn.execute(sa.select(sa.func.min(t.c.received_at)).where(t.c.status.in_(PENDING))).scalar()
    return Overview(
        by_status,
        by_status.get(schema.FAILED, 0),
        sum(due_by_partner.values()),
        int(deferred or 0),
        oldest_pending=_utc(oldest),
        due_by_partner=due_by_partner,
        dead_by_partner=dead_by_partner,
    )


def _utc(value: object) -> dt.datetime | None:
    """``min()`` loses the column's type on SQLite: a naive datetime (or its text) in UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    assert isinstance(value, dt.datetime)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
