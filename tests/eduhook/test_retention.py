"""Payload retention and purges on SQLite and PostgreSQL: what goes, what stays, and the audit."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
import sqlalchemy as sa

from eduhook.ledger import EventLedger, NewEvent, create_engine_for, upgrade
from eduhook.ledger import schema as s
from eduhook.ledger.replays import ReplayLedger
from eduhook.ledger.retention import RetentionLedger, skeleton

NOW = dt.datetime(2026, 12, 2, 6, 0, tzinfo=dt.UTC)
CUTOFF = NOW - dt.timedelta(days=90)
PERSONAL = ("Ann-Marie", "Tester", "ann@", "15705550101", "Main Street", "1990-01-10", "199001101234")


def body(event_id: str, event: str = "enrollment.deleted") -> str:
    return orjson.dumps(
        {
            "tenant_id": "6f1c2a9e-0000-4000-8000-000000000001", "educator": "acme", "event": event,
            "event_data": {
                "id": 70001, "student_id": 501, "planned_course_id": "202", "order_id": None,
                "first_name": "Ann-Marie", "last_name": "Tester", "email": "ann@example.com",
                "phone_id": "+15705550101", "address": {"address": "1 Main Street", "id": 9},
                "custom": [{"birth_date": "1990-01-10"}], "external_id": "ann@example.com",
                "national_id": "199001101234", "course_id": 12,
            },
            "note": "Ann-Marie Tester asked",
        }
    ).decode()  # fmt: skip


@pytest.fixture
def ledger(database_url: str) -> EventLedger:
    engine = create_engine_for(database_url)
    upgrade(engine)
    return EventLedger(engine)


def add(ledger: EventLedger, event_id: str, status: str, age_days: float) -> None:
    received = NOW - dt.timedelta(days=age_days)
    payload = body(event_id)
    event = NewEvent(event_id, "acme", "t", "enrollment.deleted", f"key-{event_id}", payload, "received",
                     None, received)  # fmt: skip
    ledger.insert_batch([event])
    with ledger.engine.begin() as conn:
        conn.execute(s.events.update().where(s.events.c.id == event_id).values(status=status, attempts=1))
        conn.execute(
            s.attempts.insert().values(event_id=event_id, number=1, started_at=received, outcome="x")
        )


def test_the_skeleton_keeps_routing_and_numeric_ids_only() -> None:
    kept = skeleton(orjson.loads(body("e")))
    assert kept == {
        "tenant_id": "6f1c2a9e-0000-4000-8000-000000000001", "educator": "acme",
        "event": "enrollment.deleted",
        "event_data": {"id": 70001, "student_id": 501, "planned_course_id": "202", "course_id": 12},
    }  # fmt: skip
    lead = {
        "source": "studyabroad101",
        "provider": "p1",
        "lead": {"id": 77, "name": "Ann-Marie", "program_id": 7},
    }
    assert skeleton(lead) == {
        "source": "studyabroad101",
        "provider": "p1",
        "lead": {"id": 77, "program_id": 7},
    }


def test_retention_redacts_old_final_events_in_chunks_once(ledger: EventLedger) -> None:
    for n in range(5):
        add(ledger, f"old-ok-{n}", s.SUCCEEDED, 100 + n)
    add(ledger, "old-ignored", s.IGNORED, 95)
    add(ledger, "old-dead", s.DEAD, 120)  # waits for a replay, which needs its payload
    add(ledger, "old-failed", s.FAILED, 120)  # not final
    add(ledger, "young-ok", s.SUCCEEDED, 10)
    retention = RetentionLedger(ledger.engine, chunk=2)
    progress: list[int] = []
    done = retention.apply_retention(CUTOFF, NOW, actor="beat", reason="90 days", progress=progress.append)
    assert done == 6 and progress == [2, 2, 2]
    for event_id in [*(f"old-ok-{n}" for n in range(5)), "old-ignored"]:
        event = ledger.get(event_id)
        assert event is not None and event.payload_redacted_at == NOW
        text = orjson.dumps(event.payload).decode()
        assert not [value for value in PERSONAL if value in text], event_id
        # What a later withdrawal or replay reads from the payload is still there.
        assert event.data == {"id": 70001, "student_id": 501, "planned_course_id": "202", "course_id": 12}
        assert ledger.attempts(event_id), "attempts stay"
    for event_id in ("old-dead", "old-failed", "young-ok"):
        event = ledger.get(event_id)
        assert event is not None and event.payload_redacted_at is None
        assert event.data["email"] == "ann@example.com"
    [entry] = ReplayLedger(ledger.engine).audit()
    assert (entry.action, entry.actor, entry.queued, entry.reason) == ("retention", "beat", 6, "90 days")
    assert entry.selection == {"older_than": CUTOFF.isoformat(), "statuses": ["succeeded", "ignored"]}
    # A second run finds nothing, changes nothing and writes no audit entry.
    assert retention.apply_retention(CUTOFF, NOW + dt.timedelta(days=1), actor="beat", reason="again") == 0
    assert len(ReplayLedger(ledger.engine).audit()) == 1
    assert retention.count_unredacted(CUTOFF) == 0


def test_a_run_stops_after_max_chunks_or_its_time_and_the_next_carries_on(ledger: EventLedger) -> None:
    for n in range(5):
        add(ledger, f"e{n}", s.SUCCEEDED, 100)
    retention = RetentionLedger(ledger.engine, chunk=2)
    assert retention.apply_retention(CUTOFF, NOW, actor="beat", reason="r", max_chunks=1) == 2
    # A spent time budget ends a run after its first chunk.
    assert retention.apply_retention(CUTOFF, NOW, actor="beat", reason="r", time_budget=0) == 2
    assert retention.apply_retention(CUTOFF, NOW, actor="beat", reason="r") == 1
    assert [e.queued for e in ReplayLedger(ledger.engine).audit()] == [1, 2, 2]


def test_purge_deletes_old_final_events_and_attempts_but_never_effects(ledger: EventLedger) -> None:
    for n in range(3):
        add(ledger, f"ok-{n}", s.SUCCEEDED, 200)
    add(ledger, "ignored", s.IGNORED, 200)
    add(ledger, "dead", s.DEAD, 200)
    add(ledger, "failed", s.FAILED, 200)
    add(ledger, "young", s.SUCCEEDED, 10)
    with ledger.engine.begin() as conn:
        conn.execute(s.effects.insert().values(
            key="pennfoster:learner:acme:501:NUR", generation=1, partner="pennfoster", action="learner",
            educator="acme", subject="501", target="NUR", state="done", event_id="ok-0", created_at=NOW,
            updated_at=NOW,
        ))  # fmt: skip
    retention = RetentionLedger(ledger.engine, chunk=2)
    cutoff = NOW - dt.timedelta(days=180)
    assert retention.purgeable(cutoff, ["succeeded", "ignored"]) == {"succeeded": 3, "ignored": 1}
    audit_id = ReplayLedger(ledger.engine).open_audit(
        actor="ops", reason=None, selection={}, event_ids=[], now=NOW, action="purge"
    )
    assert list(retention.purge(audit_id, cutoff, ["succeeded", "ignored"])) == [2, 2]
    left = {e.id for e in ledger.search(limit=100)}
    assert left == {"dead", "failed", "young"}
    with ledger.engine.connect() as conn:
        attempts = {row[0] for row in conn.execute(sa.select(s.attempts.c.event_id))}
        effects = conn.execute(sa.select(sa.func.count()).select_from(s.effects)).scalar_one()
    assert attempts == left and effects == 1
    assert list(retention.purge(audit_id, cutoff, ["dead"])) == [1]
    assert list(retention.purge(audit_id, cutoff, ["dead"])) == []
    [entry] = ReplayLedger(ledger.engine).audit()
    assert (entry.action, entry.queued) == ("purge", 5)
    with pytest.raises(ValueError, match="cannot purge events in status failed"):
        retention.purgeable(cutoff, ["failed"])


@pytest.mark.parametrize("days", ["0", "-5"])
def test_retention_cannot_be_turned_off(days: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from eduhook.settings import Settings

    monkeypatch.setenv("EDUHOOK_PAYLOAD_RETENTION_DAYS", days)
    with pytest.raises(ValidationError, match="payload_retention_days"):
        Settings()
