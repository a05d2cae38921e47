"""``EventFilter``: the one way operators select events (``events list``, ``dlq``, ``replay``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa

from eduhook.ledger import schema


@dataclass(frozen=True)
class EventFilter:
    """Every field given must match; ``partner`` and ``error_class`` are those of the last failure."""

    status: str | None = None
    event_type: str | None = None
    educator: str | None = None
    partner: str | None = None
    error_class: str | None = None
    since: dt.datetime | None = None  # received at or after
    until: dt.datetime | None = None  # received before

    def apply(self, query: sa.Select[Any]) -> sa.Select[Any]:
        t = schema.events
        conditions = {
            t.c.status: self.status,
            t.c.event_type: self.event_type,
            t.c.educator: self.educator,
            t.c.last_partner: self.partner,
            t.c.last_error_class: self.error_class,
        }
        for column, value in conditions.items():
            if value is not None:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(t.c.received_at >= self.since)
        if self.until is not None:
            query = query.where(t.c.received_at < self.until)
        return query

    def describe(self) -> dict[str, Any]:
        """The fields given, as JSON-ready values (for the audit and ``--json``)."""
        return {
            key: value.isoformat() if isinstance(value, dt.datetime) else value
            for key, value in asdict(self).items()
            if value is not None
        }
