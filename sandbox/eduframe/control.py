"""The Eduframe sandbox's own ``/_sandbox`` routes: seed at runtime, emit events, wait for deliveries."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.base import json_response, read_json
from sandbox.eduframe.delivery import Deliverer
from sandbox.eduframe.records import EVENT_KINDS, WEBHOOK_EVENTS
from sandbox.eduframe.state import EduframeState

DEFAULT_WAIT = 30.0


def _bad(message: str, status: int = 400) -> Response:
    return json_response({"error": message}, status)


def event_data_for(state: EduframeState, event: str, resource_id: Any) -> dict[str, Any] | None:
    """The seeded record an event is about; a ``*.deleted`` event for a missing record carries its id."""
    kind = EVENT_KINDS.get(event.split(".", 1)[0])
    if kind is None:
        raise ValueError(f"no seeded collection for {event}; send event_data instead of resource_id")
    record = state.get(kind, int(resource_id))
    if record is None and event.endswith(".deleted"):
        return {"id": int(resource_id)}
    return record


def _wait_timeout(request: Request) -> float:
    return float(request.query_params.get("timeout", DEFAULT_WAIT))


def _wants_wait(request: Request) -> bool:
    return request.query_params.get("wait", "").lower() in ("1", "true", "yes")


def control_routes(state: EduframeState, deliverer: Deliverer) -> list[Route]:
    async def seed(request: Request) -> Response:
        try:
            body = await read_json(request)
            if not isinstance(body, dict):
                raise ValueError("expected a seed object")
            counts = state.apply_seed(body)
        except (ValueError, TypeError, KeyError) as exc:
            return _bad(str(exc))
        return json_response({"added": counts})

    async def emit(request: Request) -> Response:
        """``{"event", "event_data"}`` or ``{"event", "resource_id"}``; may override tenant/educator."""
        try:
            body = await read_json(request)
            if not isinstance(body, dict):
                raise ValueError("expected an object")
            event = body.get("event")
            if event not in WEBHOOK_EVENTS:
                raise ValueError(f"unknown event {event!r}")
            if "event_data" in body:
                data = body["event_data"]
            elif "resource_id" in body:
                data = event_data_for(state, event, body["resource_id"])
                if data is None:
                    return _bad(f"{event}: no seeded record {body['resource_id']}", 404)
            else:
                raise ValueError("give event_data or resource_id")
            timeout = _wait_timeout(request)
        except (ValueError, TypeError) as exc:
            return _bad(str(exc))
        overrides = {k: str(body[k]) for k in ("tenant_id", "educator") if k in body}
        notifications = deliverer.emit(event, data, overrides=overrides)
        complete = True
        if _wants_wait(request):
            complete = await deliverer.wait([n.id for n in notifications], timeout)
        return json_response(
            {
                "event_id": notifications[0].event_id if notifications else None,
                "complete": complete,
                "notifications": [{**n.to_json(), "webhook_id": n.webhook_id} for n in notifications],
            }
        )

    async def wait(request: Request) -> Response:
        """Returns once every delivery in flight has its final outcome (or ``timeout`` s passed)."""
        try:
            timeout = _wait_timeout(request)
        except ValueError as exc:
            return _bad(str(exc))
        complete = await deliverer.wait(None, timeout)
        return json_response({"complete": complete})

    return [
        Route("/_sandbox/seed", seed, methods=["POST"]),
        Route("/_sandbox/emit", emit, methods=["POST"]),
        Route("/_sandbox/wait", wait, methods=["POST"]),
    ]
