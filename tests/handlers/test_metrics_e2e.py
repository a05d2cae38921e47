"""Metrics end to end: real workers (prefork, two children) process real events against the
sandboxes, and their ``/metrics`` and the receiver's agree with the ledger."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from starlette.types import ASGIApp

from eduhook.ledger import EventLedger, create_engine_for
from eduhook.settings import Settings
from receiver.app import create_app
from sandbox.server import RunningServer
from tests.conftest import FAST_RETRIES, wait_until
from tests.handlers.conftest import LEARNERS, World
from tests.handlers.test_e2e import webhook
from tests.handlers.test_failures import fault, settled

StartProcess = Callable[..., subprocess.Popen[bytes]]
TOKEN = "metrics-token-for-tests"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, token: str | None = TOKEN) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(url, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def metrics_url(log: Path) -> str:
    def announced() -> str | None:
        found = re.search(r"worker metrics on (http://\S+/metrics)", log.read_text() if log.exists() else "")
        return found.group(1) if found else None

    url = wait_until(announced, 30, what="the worker to serve its metrics")
    assert isinstance(url, str)
    return url


def test_a_worker_counts_what_it_did_and_the_receiver_counts_the_ledger(
    world: World, eduhook_settings: Settings, start_worker: StartProcess, start_beat: StartProcess,
    serve: Callable[[ASGIApp], RunningServer],
) -> None:  # fmt: skip
    assert eduhook_settings.redis_url
    guarded = eduhook_settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    receiver = serve(create_app(guarded, redis_url=eduhook_settings.redis_url)).url
    env = {**FAST_RETRIES, "EDUHOOK_METRICS_TOKEN": TOKEN}
    start_worker("--pool", "prefork", "-c", "2", "--metrics-port", "0", **env)
    start_beat(**FAST_RETRIES)
    worker = metrics_url(eduhook_settings.data_dir / "worker-0.log")

    # One Penn Foster 503 (retried, then done), one permanent item error (dead), one unrouted order.
    fault(world.pennfoster, kind="status", status=503, count=1, path=LEARNERS, method="POST")
    [retried] = settled(eduhook_settings, webhook(receiver, "order.approved", id=world.small_order_id))
    httpx.post(world.pennfoster + "/_sandbox/pennfoster/item-errors",
               json={"code": "E601400001", "count": 1, "target": "learners"})  # fmt: skip
    [dead] = settled(eduhook_settings, webhook(receiver, "order.approved", id=world.billing_order_id))
    [ignored] = settled(eduhook_settings, webhook(receiver, "order.approved", id=world.unrouted_order_id))
    assert (retried.status, dead.status, ignored.status) == ("succeeded", "dead", "ignored")

    assert httpx.get(worker).status_code == 401
    assert httpx.get(worker, headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(receiver + "/metrics").status_code == 401
    m = scrape(worker)
    attempts = "eduhook_event_attempts_total"
    order = {"event_type": "order.approved"}
    assert value(m, attempts, **order, outcome="failed", error_class="transient") == 1
    assert value(m, attempts, **order, outcome="succeeded", error_class="none") == 1
    assert value(m, attempts, **order, outcome="dead", error_class="permanent") == 1
    assert value(m, attempts, **order, outcome="ignored", error_class="none") == 1
    assert value(m, "eduhook_retries_scheduled_total", partner="pennfoster", error_class="transient") == 1
    assert value(m, "eduhook_dead_letters_total", partner="pennfoster", error_class="permanent") == 1
    learners = {"partner": "pennfoster", "operation": "POST /api/v4/b2b/learners"}
    assert value(m, "eduhook_partner_requests_total", **learners, status="503") == 1
    assert value(m, "eduhook_partner_requests_total", **learners, status="200") == 2
    assert value(m, "eduhook_partner_request_seconds_count", **learners) == 3
    reads = [k for k in m if k[0] == "eduhook_partner_requests_total" and ("partner", "eduframe") in k[1]]
    assert {dict(labels)["operation"] for _, labels in reads} >= {"GET /orders/{id}", "GET /users/{id}"}
    # Three learners of the first order and two of the second are done at Penn Foster.
    assert value(m, "eduhook_webhook_to_effect_seconds_count", partner="pennfoster") == 5
    assert value(m, "eduhook_breaker_state", partner="pennfoster") == 0
    assert value(m, "eduhook_tasks_in_progress") == 0
    assert not any("example.com" in str(labels) for _, labels in m)

    r = scrape(receiver + "/metrics")
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    counts = ledger.count_by_status()
    for status in ("succeeded", "dead", "ignored", "failed", "queued"):
        assert value(r, "eduhook_events", status=status) == counts.get(status, 0), status
    ledger.engine.dispose()
    assert value(r, "eduhook_dead_letters", partner="pennfoster") == 1
    assert value(r, "eduhook_queue_depth") == 0 and value(r, "eduhook_oldest_pending_seconds") == 0
    assert [value(r, "eduhook_collector_up", source=s) for s in ("ledger", "redis")] == [1, 1]
    assert value(r, "eduhook_webhooks_total", status="202") == 3


@pytest.mark.slow
def test_two_children_count_into_one_scrape(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess
) -> None:
    start_worker("--pool", "prefork", "-c", "2", "--metrics-port", "0")
    worker = metrics_url(eduhook_settings.data_dir / "worker-0.log")
    # The first order's learners take 2 s at Penn Foster; the second order meanwhile goes to the
    # other child, and finishes first.
    fault(world.pennfoster, kind="delay", delay=2, count=1, path=LEARNERS, method="POST")
    slow = webhook(receiver_url, "order.approved", id=world.small_order_id)
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    wait_until(lambda: (e := ledger.get(slow)) and e.status == "processing", 30, what="the slow event")
    fast = webhook(receiver_url, "order.approved", id=world.billing_order_id)
    wait_until(lambda: (e := ledger.get(fast)) and e.status == "succeeded", 30, what="the second event")
    assert (e := ledger.get(slow)) is not None and e.status == "processing"
    settled(eduhook_settings, slow)
    ledger.engine.dispose()

    folder = next((eduhook_settings.data_dir / "prometheus").glob("worker-*"))
    writers = {f.stem.rsplit("_", 1)[1] for f in folder.glob("counter_*.db")}
    assert len(writers) == 2  # each child wrote its own file...
    m = wait_until(
        lambda: (s := scrape(worker, None))
        and value(s, "eduhook_event_attempts_total", event_type="order.approved", outcome="succeeded",
                  error_class="none") == 2 and s,
        10, what="both attempts in one scrape",
    )  # fmt: skip
    assert isinstance(m, dict) and value(m, "eduhook_tasks_in_progress") == 0  # ...and one scrape sums them
