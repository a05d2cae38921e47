"""A deferral (a partner call held back by protection) reschedules the event and is no attempt:
the processor against a real ledger, on an injected clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import orjson

from eduhook.ledger import EventLedger, NewEvent, create_engine_for, upgrade
from eduhook.ledger.schema import DEAD, FAILED, SUCCEEDED
from eduhook.settings import Settings
from handlers.context import HandlerContext
from handlers.errors import DeferredError, TransientError
from handlers.registry import HandlerRegistry
from workers.processor import EventProcessor
from workers.retry import Backoff, RetryPolicy

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def processor_for(
    database_url: str, steps: list[Callable[[], None]]
) -> tuple[EventProcessor, list[dt.datetime]]:
    """A processor whose one handler runs the next of ``steps`` on each attempt."""
    engine = create_engine_for(database_url)
    upgrade(engine)
    now = [T0]
    registry = HandlerRegistry()
    registry.register("enrollment.created", lambda event, ctx: steps.pop(0)())
    context = HandlerContext(settings=Settings(), engine=engine, clock=lambda: now[0], worker_id="test")
    policy = RetryPolicy(default=Backoff(first_delay=1, max_delay=1, max_attempts=2, jitter="none"))
    processor = EventProcessor(EventLedger(engine), registry, context, clock=lambda: now[0], policy=policy)
    payload = orjson.dumps({"event": "enrollment.created", "event_data": {"id": 1}}).decode()
    processor.ledger.insert_batch(
        [NewEvent("e-1", "acme", "t", "enrollment.created", "k-1", payload, "queued", None, T0)]
    )
    return processor, now


def deferred(seconds: float) -> None:
    raise DeferredError(
        "eduframe not called: request budget of 20/10 spent", partner="eduframe", resume_at=seconds, now=0.0
    )


def failing() -> None:
    raise TransientError("HTTP 503", partner="pennfoster", status_code=503)


def run_until_final(processor: EventProcessor, now: list[dt.datetime]) -> list[str]:
    """Process the event, then each time its next attempt is due; the results in order."""
    ledger = processor.ledger
    results: list[str] = []
    for _ in range(10):
        results.append(processor.process("e-1"))
        event = ledger.get("e-1")
        assert event is not None
        if event.status != FAILED:
            break
        assert event.next_attempt_at is not None
        now[0] = event.next_attempt_at
        with ledger.engine.begin() as conn:  # what the scheduler does once it is due
            conn.exec_driver_sql("UPDATE events SET status = 'queued' WHERE id = 'e-1'")
    return results


def test_a_deferral_waits_for_the_partner_and_uses_no_attempt(database_url: str) -> None:
    processor, now = processor_for(database_url, [lambda: deferred(7.5), lambda: None])
    assert processor.process("e-1") == "deferred"
    event = processor.ledger.get("e-1")
    assert event is not None and event.status == FAILED
    assert event.next_attempt_at == T0 + dt.timedelta(seconds=7.5)
    assert event.last_error == "eduframe not called: request budget of 20/10 spent [partner=eduframe]"
    assert (event.attempts, event.last_error_class, event.last_partner) == (0, "deferred", "eduframe")
    assert processor.ledger.attempts("e-1") == []  # undone: it was no attempt
    assert run_until_final(processor, now)[-1] == "succeeded"
    assert [a.outcome for a in processor.ledger.attempts("e-1")] == ["succeeded"]


def test_the_retry_budget_skips_deferrals(database_url: str) -> None:
    # Two attempts allowed: the deferrals between the two real failures do not use them up.
    steps = [failing, lambda: deferred(3), lambda: deferred(3), lambda: deferred(3), failing]
    processor, now = processor_for(database_url, steps)
    assert run_until_final(processor, now) == ["failed", "deferred", "deferred", "deferred", "dead"]
    event = processor.ledger.get("e-1")
    assert event is not None and (event.status, event.last_http_status) == (DEAD, 503)
    assert event.status_reason == "still failing after 2 attempts"
    assert [(a.number, a.outcome) for a in processor.ledger.attempts("e-1")] == [(1, "failed"), (2, "failed")]


def test_success_after_deferrals_is_one_attempt_in_the_budget(database_url: str) -> None:
    processor, now = processor_for(database_url, [lambda: deferred(1), lambda: deferred(1), lambda: None])
    assert run_until_final(processor, now) == ["deferred", "deferred", "succeeded"]
    event = processor.ledger.get("e-1")
    assert event is not None and (event.status, event.attempts) == (SUCCEEDED, 1)
    assert [a.outcome for a in processor.ledger.attempts("e-1")] == ["succeeded"]
