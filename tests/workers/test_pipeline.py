"""Webhook in, real Celery worker process out: outcomes in the ledger, and nothing lost on SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable

import redis

from eduhook.ledger import EventLedger, EventRecord, create_engine_for
from eduhook.settings import Settings
from tests.conftest import wait_until
from tests.receiver.test_webhooks import envelope, post

StartWorker = Callable[..., subprocess.Popen[bytes]]


def _ledger(settings: Settings) -> EventLedger:
    return EventLedger(create_engine_for(settings.effective_database_url))


def _final(ledger: EventLedger, event_id: str, timeout: float = 30.0) -> EventRecord:
    def finished() -> EventRecord | None:
        event = ledger.get(event_id)
        return event if event and event.status in ("succeeded", "ignored", "failed", "dead") else None

    result = wait_until(finished, timeout, what=f"event {event_id} to finish")
    assert isinstance(result, EventRecord)
    return result


def test_handled_event_succeeds_with_one_attempt(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker()
    event_id = post(receiver_url, envelope("test.succeed", id=1)).json()["event_id"]
    ledger = _ledger(eduhook_settings)
    event = _final(ledger, event_id)
    assert event.status == "succeeded"
    assert event.attempts == 1
    [attempt] = ledger.attempts(event_id)
    assert attempt.outcome == "succeeded" and attempt.finished_at is not None
    assert eduhook_settings.redis_url
    assert redis.Redis.from_url(eduhook_settings.redis_url).lrange("test:handled", 0, -1) == [
        event_id.encode()
    ]


def test_outcomes_are_recorded_per_error_class(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker()
    ids = {
        kind: post(receiver_url, envelope(kind, id=n)).json()["event_id"]
        for n, kind in enumerate(["test.skip", "test.permanent", "test.transient", "test.crash"])
    }
    ledger = _ledger(eduhook_settings)
    skipped = _final(ledger, ids["test.skip"])
    assert (skipped.status, skipped.status_reason) == ("ignored", "nothing to do for this test event")

    permanent = _final(ledger, ids["test.permanent"])
    assert permanent.status == "failed"
    assert permanent.last_error_class == "permanent"
    assert permanent.last_error == "student 42 has no phone number [partner=penn_foster] [code=E600000001]"
    [attempt] = ledger.attempts(ids["test.permanent"])
    assert (attempt.partner, attempt.partner_code) == ("penn_foster", "E600000001")

    transient = _final(ledger, ids["test.transient"])
    assert transient.last_error_class == "transient"
    assert transient.next_attempt_at is not None and transient.next_attempt_at > transient.updated_at

    crashed = _final(ledger, ids["test.crash"])
    assert crashed.last_error_class == "unexpected"
    assert crashed.last_error is not None
    assert crashed.last_error.startswith("unexpected KeyError at handlers.py:")
    assert "example.com" not in crashed.last_error


def test_event_queued_before_any_worker_runs_is_processed_when_one_starts(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    event_id = post(receiver_url, envelope("test.succeed", id=2)).json()["event_id"]
    ledger = _ledger(eduhook_settings)
    assert wait_until(lambda: (e := ledger.get(event_id)) and e.status == "queued", what="queued status")
    start_worker()
    assert _final(ledger, event_id).status == "succeeded"


def test_worker_killed_mid_task_loses_nothing(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    # A short visibility timeout so the restarted worker takes the unacknowledged message back soon.
    short = {
        "EDUHOOK_VISIBILITY_TIMEOUT": "3",
        "EDUHOOK_TASK_TIME_LIMIT": "2",
        "EDUHOOK_UNACKED_RESTORE_INTERVAL": "1",
    }
    first = start_worker(**short)
    event_id = post(receiver_url, envelope("test.block", id=3)).json()["event_id"]
    assert eduhook_settings.redis_url
    client = redis.Redis.from_url(eduhook_settings.redis_url)
    started = client.blpop(["test:started"], timeout=30)
    assert started is not None and started[1] == f"{event_id}:1".encode()

    os.kill(first.pid, signal.SIGKILL)
    first.wait(10)
    ledger = _ledger(eduhook_settings)
    during = ledger.get(event_id)
    assert during is not None and during.status == "processing"

    start_worker(**short)
    event = _final(ledger, event_id, timeout=60)
    assert event.status == "succeeded"
    assert event.attempts == 2
    outcomes = [a.outcome for a in ledger.attempts(event_id)]
    assert outcomes == ["abandoned", "succeeded"]
    assert client.lrange("test:handled", 0, -1) == [event_id.encode()]
