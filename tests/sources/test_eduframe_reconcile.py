"""The Eduframe reconciler against the sandbox's notification log, a real ledger and Redis."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import redis
from starlette.types import ASGIApp

from eduhook.ledger import EventLedger, NewEvent, create_engine_for, upgrade
from eduhook.settings import Settings
from handlers.partners.eduframe import EduframeClient
from receiver.envelope import parse_envelope
from sandbox.base import SandboxClock
from sandbox.eduframe import DEFAULT_API_TOKEN, EduframeSeed, create_app
from sandbox.server import RunningServer, bind_loopback
from sources.eduframe import EduframeReconciler
from tests.conftest import wait_until
from workers.messages import DEFAULT_QUEUE, push_process_events

Serve = Callable[[ASGIApp], RunningServer]
NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def closed_port_url() -> str:
    """A loopback URL nothing listens on: eduhook is down."""
    sock = bind_loopback()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}/webhooks/eduframe?token=t0ken"


@dataclass
class Log:
    """The Eduframe sandbox with one webhook whose receiver is down, and the reconciler's parts."""

    sandbox: RunningServer
    client: EduframeClient
    webhook_id: str
    ledger: EventLedger
    broker: redis.Redis

    def emit(self, *, wait: bool = True, **body: Any) -> dict[str, Any]:
        params = {"wait": "true"} if wait else {}
        response = httpx.post(f"{self.sandbox.url}/_sandbox/emit", params=params, json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def reconciler(
        self, *, educators: Sequence[str] = (), publish: Any = None, webhook_ids: Sequence[str] = ()
    ) -> EduframeReconciler:
        def push(event_ids: Sequence[str]) -> None:
            push_process_events(self.broker, event_ids)

        return EduframeReconciler(
            client=self.client,
            ledger=self.ledger,
            publish=publish or push,
            handles=lambda event: event == "order.approved",
            webhook_ids=webhook_ids or [self.webhook_id],
            educators=educators,
            clock=lambda: NOW,
        )

    def queued(self) -> int:
        return int(self.broker.llen(DEFAULT_QUEUE))


def start(serve: Serve, database_url: str, redis_url: str, *, retry_delays: list[float]) -> Log:
    seed = EduframeSeed.demo(retry_delays=retry_delays).to_dict()
    sandbox = serve(create_app(seed, clock=SandboxClock(now=NOW.timestamp)))
    client = EduframeClient.from_settings(
        Settings(eduframe_api_url=sandbox.url, eduframe_api_token=DEFAULT_API_TOKEN)
    )
    webhook = client.create_webhook(closed_port_url(), events=["order.approved", "lead.created"])
    engine = create_engine_for(database_url)
    upgrade(engine)
    return Log(sandbox, client, webhook.id, EventLedger(engine), redis.Redis.from_url(redis_url))


@pytest.fixture
def log(serve: Serve, database_url: str, redis_url: str) -> Log:
    """Eduframe gives up after one retry, at once."""
    return start(serve, database_url, redis_url, retry_delays=[0.01])


def recorded_by_receiver(log: Log, data: dict[str, Any]) -> None:
    """The ledger row a webhook of ``data`` would have left, as the receiver builds it."""
    envelope = parse_envelope(data)
    event = NewEvent(
        id="delivered-1", educator=envelope.educator, tenant_id=envelope.tenant_id,
        event_type=envelope.event, dedup_key=envelope.dedup_key, payload=orjson.dumps(data).decode(),
        status="received", status_reason=None, received_at=NOW,
    )  # fmt: skip
    log.ledger.insert_batch([event])


def test_records_what_the_ledger_lacks_once_and_a_second_run_records_nothing(log: Log) -> None:
    emitted = [log.emit(event="order.approved", event_data={"id": 5100 + n}) for n in range(5)]
    log.emit(event="lead.created", event_data={"id": 77})
    recorded_by_receiver(log, emitted[0]["notifications"][0]["data"])

    report = log.reconciler().run(None)

    assert (report.found, report.already_had, report.recovered, report.invalid) == (6, 1, 5, 0)
    events = {e.id: e for e in log.ledger.search(limit=10)}
    recovered = [events[i] for i in report.recovered_ids]
    assert {e.source for e in recovered} == {"reconcile"}
    assert events["delivered-1"].source == "eduframe"
    by_type = sorted((e.event_type, e.status) for e in recovered)
    assert by_type == [("lead.created", "ignored")] + [("order.approved", "queued")] * 4
    assert sorted(e.payload["event_data"]["id"] for e in recovered) == [77, 5101, 5102, 5103, 5104]
    assert log.queued() == 4  # the ignored event has no handler to run

    again = log.reconciler().run(None)
    assert (again.found, again.already_had, again.recovered, again.recovered_ids) == (6, 6, 0, [])
    assert len(log.ledger.search(limit=10)) == 6
    assert log.queued() == 4


def test_a_dry_run_counts_and_records_nothing(log: Log) -> None:
    for n in range(3):
        log.emit(event="order.approved", event_data={"id": 5200 + n})

    report = log.reconciler().record(log.reconciler().read(None), dry_run=True)

    assert (report.dry_run, report.found, report.already_had, report.recovered) == (True, 3, 0, 3)
    assert report.recovered_ids == []
    assert log.ledger.search(limit=10) == []
    assert log.queued() == 0


def test_since_bounds_the_failed_notifications_read(log: Log) -> None:
    log.emit(event="order.approved", event_data={"id": 5300})
    later = log.reconciler().run(NOW + dt.timedelta(seconds=1))
    assert (later.found, later.recovered) == (0, 0)
    assert log.reconciler().run(NOW - dt.timedelta(seconds=1)).recovered == 1


def test_a_notification_still_in_retry_is_recorded_and_its_late_delivery_would_be_a_duplicate(
    serve: Serve, database_url: str, redis_url: str
) -> None:
    log = start(serve, database_url, redis_url, retry_delays=[600])
    [notification] = log.emit(wait=False, event="order.approved", event_data={"id": 5400})["notifications"]

    def retrying() -> bool:
        return any(n.status == "retry" for n in log.client.list_webhook_notifications(log.webhook_id))

    wait_until(retrying, what="the first delivery to fail")
    report = log.reconciler().run(None)

    assert (report.found, report.recovered) == (1, 1)
    [event] = log.ledger.search(limit=10)
    assert (event.source, event.payload) == ("reconcile", notification["data"])
    envelope = parse_envelope(notification["data"])
    assert log.ledger.known_dedup_keys([envelope.dedup_key, "other"]) == {envelope.dedup_key}


def test_notifications_without_a_valid_envelope_or_for_other_educators_are_counted_not_recorded(
    log: Log,
) -> None:
    [bad] = log.emit(event="order.approved", event_data={"id": 5500}, educator="")["notifications"]
    log.emit(event="order.approved", event_data={"id": 5501}, educator="globex")
    log.emit(event="order.approved", event_data={"id": 5502}, educator="acme")

    report = log.reconciler(educators=["acme"]).run(None)

    assert (report.found, report.recovered, report.invalid, report.not_accepted) == (1, 1, 1, 1)
    assert report.invalid_notifications == {bad["id"]: "invalid envelope: educator"}
    [event] = log.ledger.search(limit=10)
    assert event.educator == "acme"


def test_with_redis_down_the_recovered_events_stay_received_for_the_scheduler(log: Log) -> None:
    log.emit(event="order.approved", event_data={"id": 5600})

    def redis_down(event_ids: Sequence[str]) -> None:
        raise redis.ConnectionError("connection refused")

    report = log.reconciler(publish=redis_down).run(None)

    assert (report.recovered, report.unqueued) == (1, 1)
    [event] = log.ledger.search(limit=10)
    assert event.status == "received"
    assert log.ledger.unqueued(NOW + dt.timedelta(minutes=1)) == [event.id]


@pytest.mark.parametrize("dry_run", [True, False])
def test_one_event_given_up_by_two_watched_webhooks_is_one_event_across_pages(
    log: Log, dry_run: bool
) -> None:
    second = log.client.create_webhook(closed_port_url(), events=["order.approved"]).id
    for n in range(60):  # 120 notices: more than one chunk, each event in both
        log.emit(event="order.approved", event_data={"id": 5700 + n})

    reconciler = log.reconciler(webhook_ids=[log.webhook_id, second])
    report = reconciler.record(reconciler.read(None), dry_run=dry_run)

    assert (report.webhooks, report.found, report.already_had, report.recovered) == (2, 120, 60, 60)
    assert len(log.ledger.search(limit=200)) == (0 if dry_run else 60)
