"""Source cursors on SQLite and PostgreSQL: written with their events, forward only, failures counted."""

from __future__ import annotations

import datetime as dt

import pytest

from eduhook.ledger import EventLedger, NewEvent, create_engine_for, upgrade
from eduhook.ledger.cursors import Cursor, CursorLedger
from eduhook.ledger.database import MIGRATIONS, _v5_cursors, current_version

T0 = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
NAME = "studyabroad101:provider"


@pytest.fixture
def ledger(database_url: str) -> EventLedger:
    engine = create_engine_for(database_url)
    upgrade(engine)
    return EventLedger(engine)


def lead_event(event_id: str, lead_id: int) -> NewEvent:
    key = f"studyabroad101:provider:{lead_id}"
    return NewEvent(event_id, "provider", "studyabroad101", "studyabroad101.lead.created", key, "{}",
                    "received", None, T0, source="studyabroad101")  # fmt: skip


def test_the_cursor_is_written_with_the_events_and_the_source_is_kept(ledger: EventLedger) -> None:
    cursor = Cursor(NAME, "2026-11-20").advanced("2026-11-21", ["1", "2"])
    stored = ledger.insert_batch([lead_event("e1", 1), lead_event("e2", 2)], now=T0, cursor=cursor)
    assert [s.duplicate for s in stored] == [False, False]
    assert CursorLedger(ledger.engine).get(NAME) == Cursor(NAME, "2026-11-21", frozenset({"1", "2"}))
    event = ledger.get("e1")
    assert event is not None and event.source == "studyabroad101"
    assert ledger.known_dedup_keys(["studyabroad101:provider:1", "studyabroad101:provider:9"]) == {
        "studyabroad101:provider:1"
    }


def test_a_failed_page_moves_no_cursor(ledger: EventLedger) -> None:
    cursors = CursorLedger(ledger.engine)
    ledger.insert_batch([], now=T0, cursor=Cursor(NAME, "2026-11-20", frozenset({"1"})))
    broken = [lead_event("e2", 2), lead_event("e2", 3)]  # two events under one id: the insert fails
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
        ledger.insert_batch(broken, now=T0, cursor=Cursor(NAME, "2026-11-22", frozenset({"2", "3"})))
    assert cursors.get(NAME) == Cursor(NAME, "2026-11-20", frozenset({"1"}))
    assert ledger.get("e2") is None


def test_the_cursor_never_moves_back(ledger: EventLedger) -> None:
    cursors = CursorLedger(ledger.engine)
    ledger.insert_batch([], now=T0, cursor=Cursor(NAME, "2026-11-22", frozenset({"5"})))
    ledger.insert_batch([], now=T0, cursor=Cursor(NAME, "2026-11-01", frozenset({"9"})))
    assert cursors.get(NAME) == Cursor(NAME, "2026-11-22", frozenset({"5"}))
    # The same move computed in memory: a later date starts a new set, the same date adds to it.
    start = Cursor(NAME, "2026-11-22", frozenset({"5"}))
    assert start.advanced("2026-11-01", ["9"]) == start
    assert start.advanced("2026-11-22", ["6"]).seen == {"5", "6"}
    assert start.advanced("2026-11-23", ["7"]).seen == {"7"}


def test_failures_are_counted_in_a_row_and_cleared_by_a_written_position(ledger: EventLedger) -> None:
    cursors = CursorLedger(ledger.engine)
    assert [cursors.count_failure(NAME, T0) for _ in range(3)] == [1, 2, 3]
    ledger.insert_batch([], now=T0, cursor=Cursor(NAME, "2026-11-22"))
    stored = cursors.get(NAME)
    assert stored is not None and stored.failures == 0
    assert cursors.count_failure(NAME, T0) == 1


def test_the_cursors_step_is_idempotent(ledger: EventLedger) -> None:
    assert current_version(ledger.engine) == len(MIGRATIONS)
    assert upgrade(ledger.engine) == (len(MIGRATIONS), len(MIGRATIONS))
    with ledger.engine.begin() as conn:  # run again on a ledger that has the table: nothing changes
        _v5_cursors(conn)
    assert CursorLedger(ledger.engine).get(NAME) is None
