"""The ledger at a glance, for ``eduhook status``: events by status, and the retries waiting."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from eduhook.ledger import schema
from eduhook.ledger.events import DEFERRED


@dataclass(frozen=True)
class Overview:
    by_status: dict[str, int]
    retrying: int  # ``failed`` events: a next attempt is scheduled
    due: int  # of which due now (the scheduler queues them on its next run)
    deferred: int  # of which wait for a partner's budget or breaker, not after a failure

    @property
    def dead(self) -> int:
        return self.by_status.get(schema.DEAD, 0)


def overview(engine: Engine, now: dt.datetime) -> Overview:
    t = schema.events
    failed = t.c.status == schema.FAILED
    with engine.connect() as conn:
        by_status = {status: int(n) for status, n in conn.execute(
            sa.select(t.c.status, sa.func.count()).group_by(t.c.status)
        )}  # fmt: skip
        due = conn.execute(sa.select(sa.func.count()).where(failed, t.c.next_attempt_at <= now)).scalar()
        deferred = conn.execute(
            sa.select(sa.func.count()).where(failed, t.c.last_error_class == DEFERRED)
        ).scalar()
    return Overview(by_status, by_status.get(schema.FAILED, 0), int(due or 0), int(deferred or 0))
