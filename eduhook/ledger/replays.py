"""Dead letters and replays: what is dead and why, putting events back in line, and the audit.

The dead-letter queue is the set of ``dead`` events; each keeps its reason, the last failure's
class, partner, HTTP status and partner code, and all of its attempts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from eduhook.ledger import schema
from eduhook.ledger.filters import EventFilter

# Replaying these would run an event again that already reached its end on purpose.
NEEDS_FORCE = (schema.SUCCEEDED, schema.IGNORED)


def skip_reason(status: str | None, *, force: bool = False) -> str | None:
    """Why a replay leaves an event in ``status`` alone, or None when it replays it."""
    if status is None:
        return "unknown event"
    if status == schema.PROCESSING:
        return "being processed now"
    if status in NEEDS_FORCE and not force:
        return f"{status}; --force replays it anyway"
    return None


@dataclass(frozen=True)
class DeadCount:
    partner: str | None
    error_class: str | None
    partner_code: str | None
    count: int


@dataclass
class ReplayBatch:
    """What one replay step did: events now queued, and the others with why they were left."""

    queued: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    action: str
    actor: str
    reason: str | None
    selection: dict[str, Any]
    event_ids: list[str]
    queued: int
    skipped: int
    created_at: dt.datetime


class ReplayLedger:
    """Dead-letter queries, replays and their audit; every method is one short transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def matching_ids(self, where: EventFilter, limit: int | None = None) -> list[str]:
        """Ids of the events a filter selects, oldest first (the order a bulk replay takes)."""
        t = schema.events
        query = where.apply(sa.select(t.c.id)).order_by(t.c.received_at, t.c.id)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [row[0] for row in conn.execute(query)]

    def statuses(self, event_ids: Sequence[str]) -> dict[str, str]:
        """The current status of each known id (unknown ids are absent)."""
        t = schema.events
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(event_ids), 500):
                chunk = list(event_ids[start : start + 500])
                query = sa.select(t.c.id, t.c.status).where(t.c.id.in_(chunk))
                found.update({event_id: status for event_id, status in conn.execute(query)})
        return found

    def dead_counts(self) -> list[DeadCount]:
        """Dead events by partner, error class and partner code, largest group first."""
        t = schema.events
        columns = (t.c.last_partner, t.c.last_error_class, t.c.last_partner_code)
        query = (
            sa.select(*columns, sa.func.count().label("n"))
            .where(t.c.status == schema.DEAD)
            .group_by(*columns)
            .order_by(sa.desc("n"))
        )
        with self.engine.connect() as conn:
            return [DeadCount(p, c, code, int(n)) for p, c, code, n in conn.execute(query)]

    # Replays -------------------------------------------------------------------------------------

    def open_audit(
        self,
        *,
        actor: str,
        reason: str | None,
        selection: dict[str, Any],
        event_ids: Sequence[str],
        now: dt.datetime,
        action: str = "replay",
    ) -> int:
        """Record who does what and why, before anything is changed; returns the audit id."""
        row = {
            "action": action, "actor": actor, "reason": reason, "selection": selection,
            "event_ids": list(event_ids), "queued": 0, "skipped": 0, "created_at": now,
        }  # fmt: skip
        with self.engine.begin() as conn:
            result = conn.execute(schema.replays.insert().values(**row).returning(schema.replays.c.id))
            return int(result.scalar_one())

    def replay(
        self, audit_id: int, event_ids: Sequence[str], now: dt.datetime, *, force: bool = False
    ) -> ReplayBatch:
        """Put events back in line with a fresh retry budget: ``queued``, ready to publish.

        An event being processed is left to its worker; a succeeded or ignored one needs
        ``force``. Effects already done stay done, so a replay sends only what is missing.
        """
        t = schema.events
        batch = ReplayBatch()
        with self.engine.begin() as conn:
            query = sa.select(t.c.id, t.c.status).where(t.c.id.in_(list(event_ids))).with_for_update()
            current = dict(conn.execute(query).all())
            for event_id in event_ids:
                reason = skip_reason(current.get(event_id), force=force)
                if reason is None:
                    batch.queued.append(event_id)
                else:
                    batch.skipped[event_id] = reason
            if batch.queued:
                conn.execute(
                    t.update()
                    .where(t.c.id.in_(batch.queued), t.c.status != schema.PROCESSING)
                    .values(
                        status=schema.QUEUED, status_reason=f"replayed (audit {audit_id})",
                        retry_base=t.c.attempts, next_attempt_at=None, updated_at=now,
                    )
                )  # fmt: skip
            audit = schema.replays
            conn.execute(
                audit.update()
                .where(audit.c.id == audit_id)
                .values(
                    queued=audit.c.queued + len(batch.queued), skipped=audit.c.skipped + len(batch.skipped)
                )
            )
        return batch

    def audit(self, limit: int = 50) -> list[AuditEntry]:
        """The newest entries first: replays, purges and retention runs."""
        r = schema.replays
        query = sa.select(r).order_by(r.c.created_at.desc(), r.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [AuditEntry(**row) for row in conn.execute(query).mappings()]
