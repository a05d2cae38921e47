"""The receiver over real HTTP: every status code, dedup, durability, and what reaches the broker."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa
from starlette.types import ASGIApp

from eduhook.ledger import EventLedger, create_engine_for
from eduhook.settings import Settings
from receiver.app import create_app
from sandbox.server import RunningServer
from tests.conftest import TEST_TOKEN

URL = "/webhooks/eduframe"


def envelope(event: str = "order.approved", **data: Any) -> dict[str, Any]:
    return {
        "tenant_id": "6f1c2a9e-0000-4000-8000-000000000001",
        "educator": "acme",
        "event": event,
        "event_data": data or {"id": 1001, "status": "active"},
    }


def post(base: str, body: Any, *, token: str | None = TEST_TOKEN, **kwargs: Any) -> httpx.Response:
    params = {"token": token} if token else {}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(base + URL, params=params, content=content, timeout=10, **kwargs)


def ledger_for(settings: Settings) -> EventLedger:
    return EventLedger(create_engine_for(settings.effective_database_url))


def broker_ids(redis_url: str) -> list[str]:
    """Event ids in the Celery messages waiting on the queue, oldest first."""
    raw = redis.Redis.from_url(redis_url).lrange("eduhook", 0, -1)
    ids = []
    for item in reversed(raw):
        message = json.loads(item)
        args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
        assert kwargs == {}
        ids.append(args[0])
    return ids


def test_accepted_event_is_recorded_then_queued_with_its_id_and_type_only(
    receiver_url: str, eduhook_settings: Settings
) -> None:
    response = post(receiver_url, envelope(first_name="Jane", email="jane@example.com"))
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    event = ledger_for(eduhook_settings).get(body["event_id"])
    assert event is not None
    assert event.event_type == "order.approved"
    assert event.educator == "acme"
    assert event.data["email"] == "jane@example.com"
    assert event.status in ("received", "queued")
    assert eduhook_settings.redis_url
    assert broker_ids(eduhook_settings.redis_url) == [body["event_id"]]
    queued_raw = redis.Redis.from_url(eduhook_settings.redis_url).lindex("eduhook", 0)
    assert queued_raw is not None and b"jane" not in queued_raw and b"Jane" not in queued_raw
    args, _kwargs, _embed = json.loads(base64.b64decode(json.loads(queued_raw)["body"]))
    assert args == [body["event_id"], "order.approved"]


def test_bearer_header_and_rotated_token_are_accepted(receiver_url: str) -> None:
    by_header = post(
        receiver_url, envelope(id=1), token=None, headers={"Authorization": f"Bearer {TEST_TOKEN}"}
    )
    rotated = post(receiver_url, envelope(id=2), token="rotated-token-abcdef")
    assert (by_header.status_code, rotated.status_code) == (202, 202)


@pytest.mark.parametrize("token", [None, "wrong-token", TEST_TOKEN + "x"])
def test_missing_or_wrong_token_is_401_and_not_recorded(
    receiver_url: str, eduhook_settings: Settings, token: str | None
) -> None:
    response = post(receiver_url, envelope(), token=token)
    assert response.status_code == 401
    assert ledger_for(eduhook_settings).search() == []


def test_body_over_one_mebibyte_is_413_before_auth(receiver_url: str, eduhook_settings: Settings) -> None:
    big = json.dumps(envelope(blob="x" * (1024 * 1024))).encode()
    assert post(receiver_url, big, token="wrong").status_code == 413
    assert post(receiver_url, big).status_code == 413
    assert ledger_for(eduhook_settings).search() == []


def test_chunked_oversized_body_is_413(receiver_url: str, eduhook_settings: Settings) -> None:
    def chunks() -> Any:
        for _ in range(20):
            yield b"x" * 65536

    response = httpx.post(receiver_url + URL, params={"token": TEST_TOKEN}, content=chunks(), timeout=10)
    assert response.status_code == 413
    assert ledger_for(eduhook_settings).search() == []


def test_malformed_json_is_400(receiver_url: str, eduhook_settings: Settings) -> None:
    response = post(receiver_url, b'{"tenant_id": "t", ')
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]
    assert ledger_for(eduhook_settings).search() == []


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"educator": "acme", "event": "order.approved", "event_data": {}}, {"tenant_id"}),
        ({"tenant_id": 5, "educator": "acme", "event": "x", "event_data": {}}, {"tenant_id"}),
        ({"tenant_id": "t", "educator": "acme", "event": "", "event_data": []}, {"event", "event_data"}),
        ([1, 2, 3], {"body"}),
    ],
)
def test_invalid_envelope_is_422_naming_fields(
    receiver_url: str, eduhook_settings: Settings, body: Any, fields: set[str]
) -> None:
    response = post(receiver_url, body)
    assert response.status_code == 422
    assert set(response.json()["fields"]) == fields
    assert ledger_for(eduhook_settings).search() == []


def test_educator_not_allowed_is_403(receiver_url: str, eduhook_settings: Settings) -> None:
    response = post(receiver_url, envelope() | {"educator": "initech"})
    assert response.status_code == 403
    assert ledger_for(eduhook_settings).search() == []


def test_event_without_handler_is_recorded_ignored_and_not_queued(
    receiver_url: str, eduhook_settings: Settings
) -> None:
    response = post(receiver_url, envelope("user.updated", id=7))
    assert response.status_code == 202
    assert response.json()["status"] == "ignored"
    event = ledger_for(eduhook_settings).get(response.json()["event_id"])
    assert event is not None and event.status == "ignored"
    assert event.status_reason == "no handler for event type user.updated"
    assert eduhook_settings.redis_url
    assert broker_ids(eduhook_settings.redis_url) == []


def test_redelivery_is_200_duplicate_with_original_id(receiver_url: str, eduhook_settings: Settings) -> None:
    first = post(receiver_url, envelope(id=5, status="active"))
    # Same content, different key order and whitespace: still the same event.
    again = post(
        receiver_url,
        b'{"event_data": {"status": "active", "id": 5}, "event": "order.approved",'
        b' "educator": "acme", "tenant_id": "6f1c2a9e-0000-4000-8000-000000000001"}',
    )
    assert first.status_code == 202
    assert again.status_code == 200
    assert again.json() == {"event_id": first.json()["event_id"], "status": "duplicate"}
    assert eduhook_settings.redis_url
    assert broker_ids(eduhook_settings.redis_url) == [first.json()["event_id"]]


def test_ten_concurrent_redeliveries_make_one_event(receiver_url: str, eduhook_settings: Settings) -> None:
    body = envelope(id=77, status="active")
    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(lambda _: post(receiver_url, body), range(10)))
    ids = {r.json()["event_id"] for r in responses}
    assert len(ids) == 1
    assert sorted(r.status_code for r in responses) == [200] * 9 + [202]
    assert len(ledger_for(eduhook_settings).search()) == 1
    assert eduhook_settings.redis_url
    assert broker_ids(eduhook_settings.redis_url) == list(ids)


def test_ledger_unreachable_is_503_with_retry_after(
    eduhook_settings: Settings, serve: Callable[[ASGIApp], RunningServer]
) -> None:
    # Nothing listens on port 1: every connection to this "database" is refused.
    settings = eduhook_settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    assert settings.redis_url
    server = serve(create_app(settings, redis_url=settings.redis_url))
    response = post(server.url, envelope())
    assert response.status_code == 503
    assert response.headers["Retry-After"].isdigit()
    assert broker_ids(settings.redis_url) == []
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["ledger"].startswith("unavailable")


def test_broker_down_still_acknowledges_a_recorded_event_as_received(
    eduhook_settings: Settings, serve: Callable[[ASGIApp], RunningServer]
) -> None:
    server = serve(create_app(eduhook_settings, redis_url="redis://127.0.0.1:1/0"))
    response = post(server.url, envelope(id=9))
    assert response.status_code == 202
    assert response.json()["status"] == "received"
    ledger = ledger_for(eduhook_settings)
    event = ledger.get(response.json()["event_id"])
    assert event is not None and event.status == "received"
    # The sweeper's query finds it.
    import datetime as dt

    assert ledger.unqueued(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)) == [event.id]
    assert httpx.get(server.url + "/readyz").json()["checks"]["redis"].startswith("unavailable")


def test_health_ready_and_metrics(receiver_url: str) -> None:
    assert httpx.get(receiver_url + "/healthz").json() == {"status": "ok"}
    assert httpx.get(receiver_url + "/readyz").json()["status"] == "ready"
    post(receiver_url, envelope(id=3))
    metrics = httpx.get(receiver_url + "/metrics").text
    assert 'eduhook_webhooks_total{status="202"} 1.0' in metrics


def test_wrong_method_is_405(receiver_url: str) -> None:
    assert httpx.get(receiver_url + URL).status_code == 405


def test_received_rows_are_durable_in_a_fresh_connection(
    receiver_url: str, eduhook_settings: Settings
) -> None:
    response = post(receiver_url, envelope(id=11))
    engine = sa.create_engine(eduhook_settings.effective_database_url)
    with engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM events WHERE id = :id"), {"id": response.json()["event_id"]}
        ).scalar()
    engine.dispose()
    assert count == 1
