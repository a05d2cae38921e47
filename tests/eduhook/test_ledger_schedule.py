"""The ledger's schedule on SQLite and PostgreSQL: due retries, sweeps, the poison cap, replays."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from eduhook.ledger import EventLedger, create_engine_for, upgrade
from eduhook.ledger.database import MIGRATIONS, current_version
from eduhook.ledger.events import AttemptOutcome
from eduhook.ledger.filters import EventFilter
from eduhook.ledger.replays import ReplayLedger
from eduhook.ledger.schedule import ScheduleLedger
from tests.eduhook.test_ledger import T0, new

LEASE = dt.timedelta(minutes=5)


@pytest.fixture
def ledger(database_url: str) -> EventLedger:
    engine = create_engine_for(database_url)
    upgrade(engine)
    return EventLedger(engine)


def fail(ledger: EventLedger, event_id: str, at: dt.datetime, retry_in: float | None = 10.0) -> None:
    """One attempt that fails at ``at``: a retry due ``retry_in`` seconds later, or dead."""
    began = ledger.begin_attempt(event_id, "w", at)
    assert began is not None
    due = at + dt.timedelta(seconds=retry_in) if retry_in is not None else None
    outcome = AttemptOutcome(
        status="failed" if due else "dead", outcome="failed", error_class="transient",
        error_message="HTTP 503", partner="pennfoster", http_status=503, next_attempt_at=due,
    )  # fmt: skip
    assert ledger.finish_attempt(event_id, began[1], outcome, at)


def test_upgrade_is_repeatable_and_reaches_the_newest_version(ledger: EventLedger) -> None:
    assert upgrade(ledger.engine) == (len(MIGRATIONS), len(MIGRATIONS))
    assert current_version(ledger.engine) == len(MIGRATIONS)
    columns = {c["name"] for c in sa.inspect(ledger.engine).get_columns("events")}
    assert {"retry_base", "last_partner", "last_http_status", "last_partner_code"} <= columns


def test_a_version_5_audit_gains_its_action_column_and_old_rows_are_replays(ledger: EventLedger) -> None:
    replays = ReplayLedger(ledger.engine)
    replays.open_audit(actor="ops", reason="old", selection={}, event_ids=[], now=T0)
    with ledger.engine.begin() as conn:  # back to what version 5 had
        conn.execute(sa.text("ALTER TABLE replays DROP COLUMN action"))
        conn.execute(sa.text("DELETE FROM schema_version WHERE version >= 6"))
    assert upgrade(ledger.engine) == (5, len(MIGRATIONS))
    replays.open_audit(actor="ops", reason="new", selection={}, event_ids=[], now=T0, action="purge")
    assert [(e.reason, e.action) for e in replays.audit()] == [("new", "purge"), ("old", "replay")]


def test_a_version_1_ledger_gains_the_failure_columns_and_keeps_its_events(ledger: EventLedger) -> None:
    ledger.insert_batch([new("old", "k-old")])
    with ledger.engine.begin() as conn:  # back to what version 1 had
        conn.execute(sa.text("DROP INDEX ix_events_status_received"))
        for column in ("last_partner", "last_http_status", "last_partner_code", "retry_base"):
            conn.execute(sa.text(f"ALTER TABLE events DROP COLUMN {column}"))
        conn.execute(sa.text("DROP TABLE replays"))
        conn.execute(sa.text("DELETE FROM schema_version WHERE version >= 2"))
    assert upgrade(ledger.engine) == (1, len(MIGRATIONS))
    old = EventLedger(ledger.engine).get("old")
    assert old is not None and (old.retry_base, old.last_partner) == (0, None)
    assert sa.inspect(ledger.engine).has_table("replays")


def test_a_failed_event_is_due_at_its_time_and_taken_once(ledger: EventLedger) -> None:
    ledger.insert_batch([new("e1", "k1")])
    fail(ledger, "e1", T0, retry_in=7)
    event = ledger.get("e1")
    assert event is not None and event.status == "failed"
    assert (event.next_attempt_at, event.last_partner, event.last_http_status) == (
        T0 + dt.timedelta(seconds=7), "pennfoster", 503,
    )  # fmt: skip
    schedule = ScheduleLedger(ledger.engine)
    assert schedule.claim_due(T0 + dt.timedelta(seconds=6.999)) == []
    assert schedule.claim_due(T0 + dt.timedelta(seconds=7)) == ["e1"]
    assert schedule.claim_due(T0 + dt.timedelta(seconds=8)) == []
    queued = ledger.get("e1")
    assert queued is not None and queued.status == "queued"
    # A duplicate message for a waiting retry starts nothing; the queued one does, and clears the time.
    began = ledger.begin_attempt("e1", "w", T0 + dt.timedelta(seconds=8))
    assert began is not None and began[1] == 2 and began[0].next_attempt_at is None


def test_a_message_for_an_event_waiting_for_its_retry_starts_nothing(ledger: EventLedger) -> None:
    ledger.insert_batch([new("e1", "k1")])
    fail(ledger, "e1", T0)
    assert ledger.begin_attempt("e1", "w", T0 + dt.timedelta(hours=1)) is None


def test_two_schedulers_at_once_never_take_the_same_event(ledger: EventLedger, database_url: str) -> None:
    ledger.insert_batch([new(f"e{n}", f"k{n}") for n in range(300)])
    for n in range(300):
        fail(ledger, f"e{n}", T0, retry_in=1)
    taken: list[list[str]] = [[], []]
    start = threading.Barrier(2)

    def scheduler(number: int) -> None:
        engine = create_engine_for(database_url)
        schedule = ScheduleLedger(engine)
        start.wait()
        while ids := schedule.claim_due(T0 + dt.timedelta(seconds=5), limit=25):
            taken[number].extend(ids)
        engine.dispose()

    threads = [threading.Thread(target=scheduler, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not set(taken[0]) & set(taken[1])
    assert sorted(taken[0] + taken[1]) == sorted(f"e{n}" for n in range(300))


def test_a_queued_event_whose_message_was_lost_is_queued_again_once_per_period(ledger: EventLedger) -> None:
    ledger.insert_batch([new("e1", "k1"), new("e2", "k2")])
    ledger.mark_queued(["e1"], T0)
    ledger.mark_queued(["e2"], T0 + dt.timedelta(minutes=4))
    schedule = ScheduleLedger(ledger.engine)
    now = T0 + dt.timedelta(minutes=5, seconds=1)
    assert schedule.requeue_stale(now - dt.timedelta(minutes=5), now) == ["e1"]
    assert schedule.requeue_stale(now - dt.timedelta(minutes=5), now) == []


def test_a_dead_workers_attempt_is_abandoned_and_the_third_loss_makes_the_event_dead(
    ledger: EventLedger,
) -> None:
    ledger.insert_batch([new("e1", "k1"), new("busy", "k2")])
    schedule = ScheduleLedger(ledger.engine)
    now = T0
    for lost in (1, 2, 3):
        assert ledger.begin_attempt("e1", "w", now, abandon_after=LEASE) is not None
        assert ledger.begin_attempt("busy", "w", now + LEASE, abandon_after=LEASE) is not None or lost > 1
        now += LEASE + dt.timedelta(seconds=1)
        recovered = schedule.recover_abandoned(now - LEASE, now, max_abandoned=3)
        if lost < 3:
            assert (recovered.requeued, recovered.dead) == (["e1"], [])
    assert recovered.dead == ["e1"]
    dead = ledger.get("e1")
    assert dead is not None
    assert (dead.status, dead.status_reason, dead.last_error_class) == ("dead", "worker lost 3 times", "lost")
    assert [a.outcome for a in ledger.attempts("e1")] == ["abandoned"] * 3
    # An attempt younger than the limit belongs to a worker that may be alive: left alone.
    busy = ledger.get("busy")
    assert busy is not None and busy.status == "processing"


def test_an_abandoned_attempt_that_finishes_late_leaves_the_event_alone(ledger: EventLedger) -> None:
    ledger.insert_batch([new("e1", "k1")])
    began = ledger.begin_attempt("e1", "slow", T0)
    assert began is not None
    later = T0 + LEASE + dt.timedelta(seconds=1)
    ScheduleLedger(ledger.engine).recover_abandoned(later - LEASE, later, max_abandoned=3)
    assert ledger.begin_attempt("e1", "w2", later) is not None
    late = AttemptOutcome(status="succeeded", outcome="succeeded")
    assert ledger.finish_attempt("e1", 1, late, later) is False
    event = ledger.get("e1")
    assert event is not None and (event.status, event.attempts) == ("processing", 2)


def test_a_replay_gives_a_fresh_budget_and_is_audited(ledger: EventLedger) -> None:
    ledger.insert_batch([new(n, f"k-{n}") for n in ("dead", "done", "busy", "waiting")])
    fail(ledger, "dead", T0, retry_in=None)
    fail(ledger, "waiting", T0)
    began = ledger.begin_attempt("done", "w", T0)
    assert began is not None
    ledger.finish_attempt("done", 1, AttemptOutcome(status="succeeded", outcome="succeeded"), T0)
    assert ledger.begin_attempt("busy", "w", T0) is not None
    replays = ReplayLedger(ledger.engine)
    assert replays.matching_ids(EventFilter(status="dead", partner="pennfoster")) == ["dead"]

    ids = ["dead", "done", "busy", "waiting", "nope"]
    audit = replays.open_audit(
        actor="ops", reason="partner fixed", selection={"ids": ids}, event_ids=ids, now=T0
    )
    batch = replays.replay(audit, ids, T0)
    assert batch.queued == ["dead", "waiting"]
    assert batch.skipped == {
        "done": "succeeded; --force replays it anyway",
        "busy": "being processed now",
        "nope": "unknown event",
    }
    replayed = ledger.get("dead")
    assert replayed is not None
    assert (replayed.status, replayed.retry_base, replayed.attempts_in_budget) == ("queued", 1, 0)
    assert replays.replay(audit, ["done"], T0, force=True).queued == ["done"]
    [entry] = replays.audit()
    assert entry.action == "replay"
    assert (entry.actor, entry.reason, entry.queued, entry.skipped, entry.event_ids) == (
        "ops", "partner fixed", 3, 3, ids,
    )  # fmt: skip
