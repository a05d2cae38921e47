"""Webhook in, real Celery worker process out: outcomes in the ledger, and nothing lost on SIGKILL."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import subprocess
from collections.abc import Callable

import redis

from eduhook.ledger import EventLedger, EventRecord, create_engine_for
from eduhook.settings import Settings
from tests.conftest import FAST_RETRIES, wait_until
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
    assert (permanent.status, permanent.attempts) == ("dead", 1)  # retrying cannot help
    assert permanent.status_reason == "permanent error: retrying cannot help"
    assert permanent.last_error_class == "permanent"
    assert permanent.last_error == "student 42 has no phone number [partner=penn_foster] [code=E600000001]"
    [attempt] = ledger.attempts(ids["test.permanent"])
    assert (attempt.partner, attempt.partner_code) == ("penn_foster", "E600000001")

    transient = _final(ledger, ids["test.transient"])
    assert (transient.status, transient.last_error_class) == ("failed", "transient")
    # The handler's partner asked for 30 s (Retry-After): the retry is due no sooner.
    assert transient.next_attempt_at is not None
    assert transient.next_attempt_at >= transient.updated_at + dt.timedelta(seconds=30)

    crashed = _final(ledger, ids["test.crash"])
    assert (crashed.status, crashed.last_error_class) == ("failed", "unexpected")  # a few retries first
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


def test_transient_failures_are_retried_on_the_ledger_schedule_until_they_succeed(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker, start_beat: StartWorker
) -> None:
    start_worker(**FAST_RETRIES)
    start_beat(**FAST_RETRIES)
    event_id = post(receiver_url, envelope("test.flaky", id=4, failures=3)).json()["event_id"]
    ledger = _ledger(eduhook_settings)
    assert wait_until(lambda: (e := ledger.get(event_id)) and e.status == "succeeded", what="the retries")
    attempts = ledger.attempts(event_id)
    assert [(a.outcome, a.error_class) for a in attempts] == [("failed", "transient")] * 3 + [
        ("succeeded", None)
    ]
    # Each retry started no sooner than its backoff (no jitter: 0.2 s, 0.4 s, 0.5 s capped).
    for delay, (failed, retried) in zip((0.2, 0.4, 0.5), itertools.pairwise(attempts), strict=True):
        assert failed.finished_at is not None
        assert retried.started_at >= failed.finished_at + dt.timedelta(seconds=delay)


def test_a_crashing_handler_is_retried_three_times_then_dead(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker, start_beat: StartWorker
) -> None:
    start_worker(**FAST_RETRIES)
    start_beat(**FAST_RETRIES)
    event_id = post(receiver_url, envelope("test.crash", id=5)).json()["event_id"]
    ledger = _ledger(eduhook_settings)
    dead = _final_dead(ledger, event_id)
    assert dead.attempts == 4
    assert dead.status_reason == "unexpected error 4 times: fix the bug, then replay"
    assert dead.last_error is not None and "example.com" not in dead.last_error


def _final_dead(ledger: EventLedger, event_id: str, timeout: float = 60.0) -> EventRecord:
    found = wait_until(lambda: (e := ledger.get(event_id)) and e.status == "dead" and e, timeout, "dead")
    assert isinstance(found, EventRecord)
    return found


# An attempt is given up as lost 2 + 1 s after it started; beat sweeps every 0.2 s.
SHORT_LIMITS = {"EDUHOOK_TASK_TIME_LIMIT": "2", "EDUHOOK_ABANDON_MARGIN": "1", **FAST_RETRIES}


def test_worker_killed_mid_task_loses_nothing(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker, start_beat: StartWorker
) -> None:
    # Redis would hand the message out again only after its visibility timeout (an hour by
    # default); the scheduler's sweep queues the event again as soon as the attempt is stale.
    first = start_worker(**SHORT_LIMITS)
    start_beat(**SHORT_LIMITS)
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

    start_worker(**SHORT_LIMITS)
    event = _final(ledger, event_id, timeout=60)
    assert event.status == "succeeded"
    assert event.attempts == 2
    outcomes = [a.outcome for a in ledger.attempts(event_id)]
    assert outcomes == ["abandoned", "succeeded"]
    assert client.lrange("test:handled", 0, -1) == [event_id.encode()]


def test_an_event_that_kills_its_worker_three_times_is_dead(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker, start_beat: StartWorker
) -> None:
    start_beat(**SHORT_LIMITS)
    event_id = post(receiver_url, envelope("test.kill", id=6)).json()["event_id"]
    for _ in range(3):
        worker = start_worker(**SHORT_LIMITS)
        assert worker.wait(60) == -signal.SIGKILL
    # The next worker (restarted as a supervisor would) runs the sweep that gives up on the event,
    # and is not taken down again.
    healthy = start_worker(**SHORT_LIMITS)
    ledger = _ledger(eduhook_settings)
    dead = _final_dead(ledger, event_id)
    assert (dead.status_reason, dead.last_error_class) == ("worker lost 3 times", "lost")
    assert [a.outcome for a in ledger.attempts(event_id)] == ["abandoned"] * 3
    other = post(receiver_url, envelope("test.succeed", id=7)).json()["event_id"]
    assert _final(ledger, other).status == "succeeded"
    assert healthy.poll() is None


def test_a_busy_worker_takes_no_second_message_before_it_acknowledges_the_first(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    """``worker_prefetch_multiplier=1`` with late acks: a message waits in Redis, not in a busy worker."""
    start_worker("-c", "1")
    assert eduhook_settings.redis_url
    client = redis.Redis.from_url(eduhook_settings.redis_url)
    blocked = post(receiver_url, envelope("test.block", id=8)).json()["event_id"]
    assert client.blpop(["test:started"], timeout=30) is not None
    waiting = post(receiver_url, envelope("test.succeed", id=9)).json()["event_id"]
    # Ask the worker over the broker: once it answers, its consumer has seen the queue.
    from workers.app import create_celery

    app = create_celery(eduhook_settings, redis_url=eduhook_settings.redis_url)
    inspect = app.control.inspect(timeout=2)
    active = wait_until(inspect.active, 30, what="the worker to answer")
    assert isinstance(active, dict)
    assert [t["args"] for tasks in active.values() for t in tasks] == [[blocked, "test.block"]]
    assert [t for tasks in (inspect.reserved() or {}).values() for t in tasks] == []  # nothing prefetched
    assert client.llen("eduhook") == 1  # the second message is still on the queue
    client.rpush(f"test:release:{blocked}", "go")
    ledger = _ledger(eduhook_settings)
    assert _final(ledger, blocked).status == "succeeded"
    assert _final(ledger, waiting).status == "succeeded"
