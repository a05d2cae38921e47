"""The ledger on SQLite and PostgreSQL: fast-path writes read back through Core, dedup, attempts."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from eduhook.ledger import EventLedger, NewEvent, create_engine_for, upgrade
from eduhook.ledger.events import AttemptOutcome

T0 = dt.datetime(2026, 11, 22, 12, 0, 0, 123456, tzinfo=dt.UTC)


@pytest.fixture
def ledger(database_url: str) -> EventLedger:
    engine = create_engine_for(database_url)
    upgrade(engine)
    return EventLedger(engine)


def new(event_id: str, key: str, **data: object) -> NewEvent:
    body = {"tenant_id": "t", "educator": "acme", "event": "order.approved", "event_data": data}
    return NewEvent(event_id, "acme", "t", "order.approved", key, orjson.dumps(body).decode(), "received",
                    None, T0)  # fmt: skip


def test_batch_insert_reads_back_exactly(ledger: EventLedger) -> None:
    stored = ledger.insert_batch(
        [new("e1", "k1", id=1, email="a@b.c"), new("e2", "k1", id=1), new("e3", "k2")]
    )
    assert [(s.id, s.duplicate) for s in stored] == [("e1", False), ("e1", True), ("e3", False)]
    event = ledger.get("e1")
    assert event is not None
    assert event.received_at == T0 and event.updated_at == T0
    assert event.data == {"id": 1, "email": "a@b.c"}
    assert "a@b.c" not in repr(event)
    assert ledger.count_by_status() == {"received": 2}


def test_queued_marks_ride_along_with_the_next_batch(ledger: EventLedger) -> None:
    ledger.insert_batch([new("e1", "k1")])
    later = T0 + dt.timedelta(seconds=1)
    ledger.insert_batch([new("e2", "k2")], mark_queued=["e1"], now=later)
    first, second = ledger.get("e1"), ledger.get("e2")
    assert first is not None and (first.status, first.updated_at) == ("queued", later)
    assert second is not None and second.status == "received"
    # Only `received` moves to `queued`: a worker's later status is never overwritten.
    ledger.begin_attempt("e2", "w", later)
    assert ledger.mark_queued(["e2"], later) == 0


def test_attempts_are_recorded_and_a_lost_one_is_closed(ledger: EventLedger) -> None:
    ledger.insert_batch([new("e1", "k1")])
    began = ledger.begin_attempt("e1", "worker-a", T0)
    assert began is not None and began[1] == 1
    lease = dt.timedelta(minutes=5)
    # A second message while worker-a may still be at work starts nothing.
    assert ledger.begin_attempt("e1", "worker-b", T0 + dt.timedelta(minutes=1), abandon_after=lease) is None
    again = ledger.begin_attempt("e1", "worker-b", T0 + dt.timedelta(minutes=6), abandon_after=lease)
    assert again is not None and again[1] == 2  # worker-a died
    ledger.finish_attempt("e1", 2, AttemptOutcome(status="succeeded", outcome="succeeded"), T0)
    assert [(a.worker, a.outcome) for a in ledger.attempts("e1")] == [
        ("worker-a", "abandoned"),
        ("worker-b", "succeeded"),
    ]
    assert ledger.begin_attempt("e1", "worker-c", T0) is None  # finished events are not run again
