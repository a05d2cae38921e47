"""The receiver's scrape-time gauges on a real server: the ledger's numbers, and a scrape that
still answers when the ledger or Redis does not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx
import redis
from starlette.types import ASGIApp

from eduhook.ledger import EventLedger, NewEvent, create_engine_for
from eduhook.ledger.events import AttemptOutcome
from eduhook.settings import Settings
from receiver.app import create_app
from sandbox.server import RunningServer
from tests.handlers.test_metrics_e2e import scrape, value
from workers.messages import push_process_events

NOW = dt.datetime(2026, 5, 4, 12, 0, tzinfo=dt.UTC)


def test_gauges_are_the_ledgers_numbers(
    eduhook_settings: Settings, serve: Callable[[ASGIApp], RunningServer]
) -> None:
    assert eduhook_settings.redis_url
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    ages = {"old": 700, "new": 5, "retry": 3600, "dead": 7200, "done": 9000}
    ledger.insert_batch([
        NewEvent(name, "acme", "t", "enrollment.created", name, "{}",
                 "succeeded" if name == "done" else "queued", None, NOW - dt.timedelta(seconds=age))
        for name, age in ages.items()
    ])  # fmt: skip
    retry = AttemptOutcome(status="failed", outcome="failed", error_class="transient", partner="appsembler",
                           next_attempt_at=NOW - dt.timedelta(seconds=1))  # fmt: skip
    dead = AttemptOutcome(status="dead", outcome="failed", error_class="permanent", partner="pennfoster")
    for name, outcome in {"retry": retry, "dead": dead}.items():
        began = ledger.begin_attempt(name, "w", NOW)
        assert began is not None and ledger.finish_attempt(name, began[1], outcome, NOW)
    ledger.engine.dispose()
    push_process_events(redis.Redis.from_url(eduhook_settings.redis_url), ["old", "new", "x"])
    url = serve(create_app(eduhook_settings, redis_url=eduhook_settings.redis_url, clock=lambda: NOW)).url

    m = scrape(url + "/metrics", token=None)  # no EDUHOOK_METRICS_TOKEN: open
    statuses = ("queued", "failed", "dead", "succeeded")
    assert [value(m, "eduhook_events", status=s) for s in statuses] == [2, 1, 1, 1]
    # The retried and the dead events are older, but neither is pending; "done" is final.
    assert value(m, "eduhook_oldest_pending_seconds") == 700
    assert value(m, "eduhook_retry_due", partner="appsembler") == 1
    assert value(m, "eduhook_dead_letters", partner="pennfoster") == 1
    assert value(m, "eduhook_queue_depth") == 3


def test_a_scrape_answers_without_redis_or_the_ledger(
    eduhook_settings: Settings, serve: Callable[[ASGIApp], RunningServer]
) -> None:
    no_redis = serve(create_app(eduhook_settings, redis_url="redis://127.0.0.1:1/0")).url
    m = scrape(no_redis + "/metrics", token=None)
    assert value(m, "eduhook_collector_up", source="redis") == 0
    assert value(m, "eduhook_collector_up", source="ledger") == 1
    assert ("eduhook_queue_depth", frozenset()) not in m

    assert eduhook_settings.redis_url
    no_ledger = eduhook_settings.model_copy(update={"database_url": "postgresql+psycopg://u@127.0.0.1:1/x"})
    url = serve(create_app(no_ledger, redis_url=eduhook_settings.redis_url)).url
    response = httpx.get(url + "/metrics", timeout=30)
    assert response.status_code == 200
    m = scrape(url + "/metrics", token=None)
    assert value(m, "eduhook_collector_up", source="ledger") == 0
    assert value(m, "eduhook_collector_up", source="redis") == 1 and ("eduhook_queue_depth", frozenset()) in m
