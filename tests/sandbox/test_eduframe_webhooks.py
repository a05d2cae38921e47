"""The Eduframe sandbox delivers webhooks like Eduframe: payload, 10 s limit, retries, notification log."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from eduhook.settings import Settings
from handlers.partners.eduframe import EduframeClient
from sandbox.base import SandboxClock
from sandbox.eduframe import DEFAULT_API_TOKEN, DEFAULT_EDUCATOR, DEFAULT_TENANT_ID, EduframeSeed, create_app
from sandbox.server import RunningServer

Serve = Callable[[ASGIApp], RunningServer]
FIXED_NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Receiver:
    """A stand-in for eduhook's receiver answering each delivery with the next scripted status."""

    statuses: list[int]
    delay: float = 0.0
    bodies: list[Any] = field(default_factory=list)

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.bodies.append(await request.json())
            if self.delay:
                await asyncio.sleep(self.delay)
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return JSONResponse({"received": True}, status_code=status)

        return Starlette(routes=[Route("/webhooks/eduframe", hook, methods=["POST"])])


@dataclass
class World:
    sandbox: RunningServer
    receiver: Receiver
    client: EduframeClient
    webhook_id: str

    def emit(self, **body: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.sandbox.url}/_sandbox/emit", params={"wait": "true"}, json=body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


def start(
    serve: Serve,
    statuses: list[int],
    *,
    delay: float = 0.0,
    events: tuple[str, ...] = ("order.approved",),
    **config: Any,
) -> World:
    receiver = Receiver(statuses, delay)
    hook_url = serve(receiver.app()).url + "/webhooks/eduframe?token=t0ken"
    seed = EduframeSeed.demo(retry_delays=[0.02, 0.02], **config).to_dict()
    sandbox = serve(create_app(seed, clock=SandboxClock(now=FIXED_NOW.timestamp)))
    client = EduframeClient.from_settings(
        Settings(eduframe_api_url=sandbox.url, eduframe_api_token=DEFAULT_API_TOKEN)
    )
    webhook = client.create_webhook(hook_url, events=list(events))
    return World(sandbox, receiver, client, webhook.id)


def test_a_delivery_carries_the_documented_payload_and_is_logged_as_succeeded(serve: Serve) -> None:
    world = start(serve, [202])

    result = world.emit(event="order.approved", resource_id=5001)

    assert result["complete"] is True
    assert world.receiver.bodies == [
        {
            "tenant_id": DEFAULT_TENANT_ID,
            "educator": DEFAULT_EDUCATOR,
            "event": "order.approved",
            "event_data": httpx.get(
                f"{world.sandbox.url}/orders/5001", headers={"Authorization": f"Bearer {DEFAULT_API_TOKEN}"}
            ).json(),
        }
    ]
    [notification] = world.client.list_webhook_notifications(world.webhook_id)
    assert notification.status == "succeeded"
    assert notification.event_id == result["event_id"]
    assert notification.event == "order.approved"
    assert [(a.status_code, a.response) for a in notification.send_attempts] == [(202, '{"received":true}')]
    assert notification.send_attempts[0].created_at == "2025-03-01T12:00:00.000Z"  # a string in the spec


def test_a_500_is_retried_until_the_receiver_accepts(serve: Serve) -> None:
    world = start(serve, [500, 202])

    world.emit(event="order.approved", event_data={"id": 5001})

    [notification] = world.client.list_webhook_notifications(world.webhook_id)
    assert notification.status == "succeeded"
    assert [a.status_code for a in notification.send_attempts] == [500, 202]
    assert len(world.receiver.bodies) == 2
    assert world.receiver.bodies[0] == world.receiver.bodies[1]
    assert world.client.list_failed_webhook_notifications(world.webhook_id) == []


def test_exhausted_retries_mark_the_notification_failed_and_list_it(serve: Serve) -> None:
    world = start(serve, [503])

    world.emit(event="order.approved", resource_id=5001)

    [notification] = world.client.list_webhook_notifications(world.webhook_id)
    assert notification.status == "failed"
    assert [a.status_code for a in notification.send_attempts] == [503, 503, 503]  # first try + 2 retries
    [failed] = world.client.list_failed_webhook_notifications(
        world.webhook_id, start=FIXED_NOW - timedelta(minutes=1), end=FIXED_NOW + timedelta(minutes=1)
    )
    assert (failed.id, failed.webhook_id, failed.status) == (notification.id, world.webhook_id, "failed")
    assert failed.data["event"] == "order.approved"
    assert (
        world.client.list_failed_webhook_notifications(
            world.webhook_id, start=FIXED_NOW + timedelta(seconds=1)
        )
        == []
    )
    assert world.client.list_failed_webhook_notifications(world.webhook_id, end=FIXED_NOW) == []


def test_the_failed_list_pages_with_a_cursor_that_new_failures_do_not_shift(serve: Serve) -> None:
    world = start(serve, [503])
    for n in range(12):
        world.emit(event="order.approved", event_data={"id": 6000 + n})
    url = f"{world.sandbox.url}/webhooks/{world.webhook_id}/notifications/failed"
    headers = {"Authorization": f"Bearer {DEFAULT_API_TOKEN}"}

    first = httpx.get(url, headers=headers, params={"per_page": 5})
    assert first.status_code == 200 and len(first.json()) == 5
    assert "cursor=" in first.links["next"]["url"] and "&page=" not in first.links["next"]["url"]
    world.emit(event="order.approved", event_data={"id": 6100})  # fails while the client pages
    ids = [n["id"] for n in first.json()]
    next_url: str | None = first.links["next"]["url"]
    while next_url:
        page = httpx.get(next_url, headers=headers)
        assert page.status_code == 200 and len(page.json()) <= 5
        ids += [n["id"] for n in page.json()]
        next_url = page.links.get("next", {}).get("url")
    assert len(ids) == len(set(ids)) == 13

    every = world.client.list_failed_webhook_notifications(world.webhook_id)  # per_page 100, one page
    assert [n.id for n in every] == ids
    bad = httpx.get(url, headers=headers, params={"cursor": "bm90LWFuLWlk"})
    assert bad.status_code == 400 and set(bad.json()["errors"]) == {"cursor"}
    assert httpx.get(url, headers=headers, params={"per_page": "0"}).status_code == 400


def test_a_receiver_slower_than_the_timeout_counts_as_a_failed_attempt(serve: Serve) -> None:
    world = start(serve, [200, 200, 200], delay=0.5, delivery_timeout=0.05)

    world.emit(event="order.approved", resource_id=5001)

    [notification] = world.client.list_webhook_notifications(world.webhook_id)
    assert notification.status == "failed"
    assert {(a.status_code, a.response) for a in notification.send_attempts} == {
        (0, "timed out after 0.05 s")
    }


def test_only_active_webhooks_subscribed_to_the_event_receive_it(serve: Serve) -> None:
    world = start(serve, [200], events=("order.denied",))

    result = world.emit(event="order.approved", resource_id=5001)

    assert result["notifications"] == []
    assert world.receiver.bodies == []
    assert world.client.list_webhook_notifications(world.webhook_id) == []


def test_api_writes_emit_their_events(serve: Serve) -> None:
    world = start(serve, [200], events=("order.approved", "lead.created"))
    headers = {"Authorization": f"Bearer {DEFAULT_API_TOKEN}"}

    assert httpx.put(f"{world.sandbox.url}/orders/5002/approve", headers=headers).status_code == 200
    assert (
        httpx.post(f"{world.sandbox.url}/leads", headers=headers, json={"first_name": "Zoe"}).status_code
        == 201
    )
    assert httpx.post(f"{world.sandbox.url}/_sandbox/wait").json() == {"complete": True}

    assert [(b["event"], b["event_data"]["id"]) for b in world.receiver.bodies] == [
        ("order.approved", 5002),
        ("lead.created", 9001),
    ]
    assert world.receiver.bodies[0]["event_data"]["status"] == "active"


def test_enrollment_changes_emit_their_events_and_the_client_sees_them(serve: Serve) -> None:
    world = start(serve, [200], events=("enrollment.updated", "enrollment.deleted"))
    headers = {"Authorization": f"Bearer {DEFAULT_API_TOKEN}"}
    base = world.sandbox.url
    assert httpx.put(f"{base}/enrollments/7001/cancel", headers=headers).json()["status"] == "canceled"
    assert httpx.put(f"{base}/enrollments/7001/cancel", headers=headers).status_code == 422
    moved = httpx.post(f"{base}/_sandbox/enrollments/7002/transfer", json={"planned_course_id": 202})
    assert moved.json()["planned_course_id"] == 202
    assert (
        httpx.post(f"{base}/_sandbox/enrollments/7002/transfer", json={"planned_course_id": 9}).status_code
        == 404
    )
    assert world.client.list_enrollments(planned_course_id=202, with_canceled=False)[0].id == 7002
    assert [e.id for e in world.client.list_enrollments(student_id=1001, with_canceled=False)] == []
    assert [e.id for e in world.client.list_enrollments(student_id=1001)] == [7001]

    assert httpx.delete(f"{base}/_sandbox/records/enrollments/7002").status_code == 200
    assert httpx.delete(f"{base}/_sandbox/records/enrollments/7002").status_code == 404
    assert world.client.find_enrollment(7002) is None and world.client.find_enrollment(7001) is not None
    assert httpx.post(f"{base}/_sandbox/wait").json() == {"complete": True}
    assert [(b["event"], b["event_data"]["id"], b["event_data"]["planned_course_id"])
            for b in world.receiver.bodies] == [
        ("enrollment.updated", 7001, 201), ("enrollment.updated", 7002, 202),
        ("enrollment.deleted", 7002, 202),
    ]  # fmt: skip
    assert world.receiver.bodies[2]["event_data"]["student_id"] == 1002


def test_emit_can_override_tenant_and_educator(serve: Serve) -> None:
    world = start(serve, [200])
    world.emit(event="order.approved", resource_id=5001, educator="other-school")
    assert world.receiver.bodies[0]["educator"] == "other-school"
    assert world.receiver.bodies[0]["tenant_id"] == DEFAULT_TENANT_ID


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"event": "order.exploded", "event_data": {}}, 400),
        ({"event": "order.approved"}, 400),
        ({"event": "order.approved", "resource_id": 1}, 404),
    ],
)
def test_emit_rejects_what_it_cannot_deliver(serve: Serve, body: dict[str, Any], status: int) -> None:
    sandbox = serve(create_app({}))
    assert httpx.post(f"{sandbox.url}/_sandbox/emit", json=body).status_code == status


def test_webhook_registration_is_validated(serve: Serve) -> None:
    sandbox = serve(create_app({}))
    headers = {"Authorization": f"Bearer {DEFAULT_API_TOKEN}"}
    missing = httpx.post(f"{sandbox.url}/webhooks", headers=headers, json={"events": ["order.approved"]})
    assert missing.status_code == 422 and set(missing.json()["errors"]) == {"url"}
    unknown = httpx.post(
        f"{sandbox.url}/webhooks",
        headers=headers,
        json={"url": "http://127.0.0.1:9/x", "events": ["order.eaten"]},
    )
    assert unknown.status_code == 422 and "order.eaten" in unknown.json()["errors"]["events"][0]
    assert httpx.get(f"{sandbox.url}/webhooks/nope/notifications", headers=headers).status_code == 404
