"""``eduhook status``: partner budgets and breakers from Redis, the queue, retries and dead letters."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable
from typing import Any

import orjson
import redis
from click.testing import CliRunner

from eduhook.cli.main import cli
from eduhook.ledger import EventLedger, NewEvent, create_engine_for
from eduhook.ledger.events import AttemptOutcome
from eduhook.settings import PartnerLimit, Settings
from handlers.protection.breaker import Breaker, BreakerPolicy
from handlers.protection.budget import Budget
from tests.conftest import settings_env, wait_until
from workers.messages import push_process_events


def status(settings: Settings, *args: str, code: int = 1, **env: str) -> str:
    """``eduhook status``, expecting exit status ``code`` (1: something needs attention)."""
    environment = {k: v for k, v in settings_env(settings, **env).items() if k.startswith("EDUHOOK_")}
    environment.setdefault("EDUHOOK_RECEIVER_URL", "http://127.0.0.1:1")  # none unless a test starts one
    result = CliRunner().invoke(cli, ["status", *args], env=environment, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def record(ledger: EventLedger, now: dt.datetime, *outcomes: AttemptOutcome | None) -> None:
    """One event per outcome: left queued (``None``), or after one attempt ending so."""
    for n, outcome in enumerate(outcomes):
        event_id = f"e-{n}"
        ledger.insert_batch(
            [NewEvent(event_id, "acme", "t", "enrollment.created", f"k-{n}", "{}", "queued", None, now)]
        )
        if outcome is None:
            continue
        began = ledger.begin_attempt(event_id, "w", now)
        assert began is not None
        if outcome.error_class == "deferred":
            ledger.defer_attempt(event_id, began[1], until=outcome.next_attempt_at or now,
                                 message="pennfoster not called", partner="pennfoster", now=now)  # fmt: skip
        else:
            assert ledger.finish_attempt(event_id, began[1], outcome, now)


def test_shows_budgets_breakers_queue_retries_and_dead_letters(eduhook_settings: Settings) -> None:
    assert eduhook_settings.redis_url
    client = redis.Redis.from_url(eduhook_settings.redis_url)
    budget = Budget("eduframe", PartnerLimit(requests=20, per_seconds=10), client)
    budget.take(3)
    breaker = Breaker("pennfoster", BreakerPolicy(failures=2, cooldown=60), client)
    breaker.failed()
    breaker.failed()
    push_process_events(client, ["e-0", "e-1"])
    now = dt.datetime.now(dt.UTC)
    later, earlier = now + dt.timedelta(minutes=5), now - dt.timedelta(seconds=1)

    def failed(
        status: str, next_attempt_at: dt.datetime | None = None, reason: str | None = None
    ) -> AttemptOutcome:
        return AttemptOutcome(status=status, outcome="failed", reason=reason, error_class="transient",
                              error_message="HTTP 503", next_attempt_at=next_attempt_at)  # fmt: skip

    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    record(
        ledger, now, None,
        failed("failed", earlier),  # due now
        failed("failed", later),
        AttemptOutcome(status="failed", outcome="deferred", error_class="deferred", next_attempt_at=later),
        failed("dead", reason="still failing"),
    )  # fmt: skip
    ledger.engine.dispose()

    document: dict[str, Any] = orjson.loads(
        status(eduhook_settings, "--json", EDUHOOK_LIMIT_EDUFRAME="20/10")
    )
    eduframe, pennfoster, appsembler = document["partners"]
    assert (eduframe["limit"], eduframe["budget_left"]) == ({"requests": 20, "per_seconds": 10}, 17)
    assert eduframe["breaker"]["state"] == "closed"
    assert pennfoster["limit"] is None and pennfoster["breaker"]["state"] == "open"
    assert pennfoster["breaker"]["until"] > now.isoformat()
    assert appsembler["breaker"] == {"state": "closed", "until": None, "failures": 0, "cooldown": 30.0}
    assert (document["queue_depth"], document["retrying"], document["due"]) == (2, 3, 1)
    assert (document["deferred"], document["dead"]) == (1, 1)
    assert document["events"] == {"queued": 1, "failed": 3, "dead": 1}

    text = status(eduhook_settings, EDUHOOK_LIMIT_EDUFRAME="20/10", EDUHOOK_BREAKER_ENABLED="false")
    assert "eduframe      17/20 per 10 s" in text and "off" in text
    assert "queue: 2 events waiting" in text and "dead letters: 1" in text
    assert "3 events waiting for their next attempt, 1 due now [none: 1]; 1 of them held back" in text
    text = status(eduhook_settings, EDUHOOK_LIMIT_EDUFRAME="20/10")
    assert "pennfoster    no limit" in text and "open until" in text and "(cool-down 60 s)" in text


def test_healthy_with_a_receiver_and_a_worker_then_attention_once_something_is_wrong(
    eduhook_settings: Settings, receiver_url: str, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    worker = start_worker("-c", "3")

    def healthy() -> dict[str, Any] | None:
        environment = {k: v for k, v in settings_env(eduhook_settings).items() if k.startswith("EDUHOOK_")}
        environment["EDUHOOK_RECEIVER_URL"] = receiver_url
        result = CliRunner().invoke(cli, ["status", "--json"], env=environment, catch_exceptions=False)
        found: dict[str, Any] = orjson.loads(result.output)
        return found if result.exit_code == 0 else None

    document = wait_until(healthy, 60, what="status to report a worker")
    assert isinstance(document, dict)
    assert (document["healthy"], document["problems"], document["ledger"], document["redis"]) == (
        True, [], "ok", "ok"
    )  # fmt: skip
    ready = {"ledger": "ok", "redis": "ok"}
    assert document["receiver"] == {"url": receiver_url, "state": "ready", "checks": ready}
    [answered] = document["workers"]
    assert answered["name"].startswith("celery@") and answered["concurrency"] == 3
    text = status(eduhook_settings, code=0, EDUHOOK_RECEIVER_URL=receiver_url)
    assert "receiver: ready" in text and "(concurrency 3)" in text and text.rstrip().endswith("healthy")

    # A dead letter, and an event pending for longer than the limit: both need attention.
    now = dt.datetime.now(dt.UTC)
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    ledger.insert_batch([NewEvent("old", "acme", "t", "enrollment.created", "k-old", "{}", "received", None,
                                  now - dt.timedelta(minutes=20))])  # fmt: skip
    record(ledger, now, AttemptOutcome(status="dead", outcome="failed", reason="no", error_class="permanent",
                                       partner="pennfoster"))  # fmt: skip
    ledger.engine.dispose()
    found = orjson.loads(status(eduhook_settings, "--json", EDUHOOK_RECEIVER_URL=receiver_url))
    assert found["healthy"] is False and found["dead_by_partner"] == {"pennfoster": 1}
    assert [p.split(" ")[0] for p in found["problems"]] == ["oldest", "1"]
    assert 1190 < found["oldest_pending_seconds"] < 1300

    worker.terminate()
    worker.wait(30)
    text = status(eduhook_settings)  # and no receiver at the default URL
    assert "no worker answered the ping" in text and "receiver at http://127.0.0.1:1: unreachable" in text
