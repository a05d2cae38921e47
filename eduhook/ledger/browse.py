"""Reads for the ops console: pages of events by received time, the oldest pending, one audit entry.

A cursor is the (received_at, id) of the last row shown, opaque to the page (base64 of JSON);
the next page starts strictly after it, so a page costs the same wherever it is.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import dataclass
from typing import Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from eduhook.ledger import schema
from eduhook.ledger.events import EventRecord, _event
from eduhook.ledger.filters import EventFilter
from eduhook.ledger.replays import AuditEntry

Order = Literal["asc", "desc"]
PENDING = (schema.RECEIVED, schema.QUEUED)


class BadCursor(ValueError):
    """A cursor that this module did not write."""


@dataclass(frozen=True)
class EventPage:
    events: list[EventRecord]
    next_cursor: str | None  # None on the last page


def encode_cursor(event: EventRecord) -> str:
    raw = orjson.dumps([event.received_at.isoformat(), event.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, event_id = orjson.loads(raw)
        when = dt.datetime.fromisoformat(moment)
    except (binascii.Error, orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise BadCursor("not a cursor from this console") from exc
    if not isinstance(event_id, str) or when.tzinfo is None:
        raise BadCursor("not a cursor from this console")
    return when, event_id


def page(
    engine: Engine, where: EventFilter, *, cursor: str | None = None, order: Order = "desc", limit: int = 50
) -> EventPage:
    """Up to ``limit`` events ``where`` selects, by received time then id, after ``cursor``."""
    t = schema.events
    query = where.apply(sa.select(t))
    if cursor is not None:
        when, event_id = decode_cursor(cursor)
        after = sa.tuple_(t.c.received_at, t.c.id)
        key = sa.tuple_(sa.literal(when, schema.UTCDateTime), sa.literal(event_id))
        query = query.where(after < key if order == "desc" else after > key)
    if order == "desc":
        query = query.order_by(t.c.received_at.desc(), t.c.id.desc())
    else:
        query = query.order_by(t.c.received_at, t.c.id)
    with engine.connect() as conn:
        rows = [_event(dict(row)) for row in conn.execute(query.limit(limit + 1)).mappings()]
    more = len(rows) > limit
    rows = rows[:limit]
    return EventPage(rows, encode_cursor(rows[-1]) if more and rows else None)


def oldest_pending(engine: Engine) -> dt.datetime | None:
    """When the oldest event still waiting for a worker (received or queued) came in."""
    t = schema.events
    oldest: dt.datetime | None = None
    with engine.connect() as conn:
        for status in PENDING:  # one index range each: (status, received_at)
            first = sa.func.min(t.c.received_at, type_=schema.UTCDateTime())
            value = conn.execute(sa.select(first).where(t.c.status == status)).scalar()
            if value is not None and (oldest is None or value < oldest):
                oldest = value
    return oldest


def event_types(engine: Engine) -> list[str]:
    """The event types the ledger holds, for the filter's choices (an index-only scan)."""
    t = schema.events
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(sa.select(t.c.event_type).distinct().order_by(t.c.event_type))]


def audit_entry(engine: Engine, audit_id: int) -> AuditEntry | None:
    """One audit entry by id (a replay's progress page follows its events)."""
    r = schema.replays
    with engine.connect() as conn:
        row = conn.execute(sa.select(r).where(r.c.id == audit_id)).mappings().first()
    return None if row is None else AuditEntry(**row)
