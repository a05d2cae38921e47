"""The Eduframe sandbox's webhook API: subscriptions and their notification log (``/webhooks``)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.base import SandboxClock, json_response, read_json
from sandbox.eduframe.api import authenticated
from sandbox.eduframe.records import WEBHOOK_EVENTS, iso, parse_iso
from sandbox.eduframe.responses import cursor_paged, error, not_found, paged
from sandbox.eduframe.state import EduframeState


def webhook_problems(body: dict[str, Any], *, partial: bool) -> dict[str, list[str]]:
    """What is wrong with a webhook body: ``url`` (required on create) an absolute http(s) URI,
    ``active`` a boolean, ``events`` known event names."""
    problems: dict[str, list[str]] = {}
    if "url" in body or not partial:
        url = body.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            problems["url"] = ["is not a valid http(s) URL" if url else "can't be blank"]
    if "active" in body and not isinstance(body["active"], bool):
        problems["active"] = ["must be a boolean"]
    if "events" in body:
        events = body["events"]
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            problems["events"] = ["must be an array of event names"]
        else:
            unknown = sorted(set(events) - WEBHOOK_EVENTS)
            if unknown:
                problems["events"] = [f"contains unknown events: {', '.join(unknown)}"]
    return problems


def webhook_routes(state: EduframeState, clock: SandboxClock) -> list[Route]:
    async def body_or_error(request: Request) -> dict[str, Any] | Response:
        try:
            body = await read_json(request)
        except ValueError as exc:
            return error(400, "Request body is not valid JSON", {"body": [str(exc)]})
        return body if isinstance(body, dict) else error(400, "Request body must be a JSON object")

    async def create(request: Request) -> Response:
        body = await body_or_error(request)
        if isinstance(body, Response):
            return body
        problems = webhook_problems(body, partial=False)
        if problems:
            return error(422, "Validation failed", problems)
        now = iso(clock())
        hook = {
            "id": str(uuid.uuid4()),
            "url": body["url"],
            "active": body.get("active", True),
            "events": list(dict.fromkeys(body.get("events", []))),
            "created_at": now,
            "updated_at": now,
        }
        state.webhooks[hook["id"]] = hook
        return json_response(hook, 201)

    async def list_hooks(request: Request) -> Response:
        return paged(request, list(state.webhooks.values()))

    async def get_hook(request: Request) -> Response:
        hook = state.webhooks.get(request.path_params["id"])
        return json_response(hook) if hook else not_found("Webhook", request.path_params["id"])

    async def update_hook(request: Request) -> Response:
        hook = state.webhooks.get(request.path_params["id"])
        if hook is None:
            return not_found("Webhook", request.path_params["id"])
        body = await body_or_error(request)
        if isinstance(body, Response):
            return body
        problems = webhook_problems(body, partial=True)
        if problems:
            return error(422, "Validation failed", problems)
        hook.update({k: body[k] for k in ("url", "active", "events") if k in body})
        hook["updated_at"] = iso(clock())
        return json_response(hook)

    async def delete_hook(request: Request) -> Response:
        hook = state.webhooks.pop(request.path_params["id"], None)
        return json_response(hook) if hook else not_found("Webhook", request.path_params["id"])

    async def notifications(request: Request) -> Response:
        webhook_id = request.path_params["id"]
        if webhook_id not in state.webhooks:
            return not_found("Webhook", webhook_id)
        return paged(request, [n.to_json() for n in state.notifications_for(webhook_id)])

    async def failed(request: Request) -> Response:
        webhook_id = request.path_params["id"]
        if webhook_id not in state.webhooks:
            return not_found("Webhook", webhook_id)
        bounds: dict[str, float] = {}
        for name in ("start", "end"):
            raw = request.query_params.get(name)
            if raw:
                try:
                    bounds[name] = parse_iso(raw)
                except ValueError:
                    return error(400, f"Invalid {name}", {name: ["is not a valid ISO 8601 date-time"]})
        items = [
            n.to_failed_json()
            for n in state.notifications_for(webhook_id)
            if n.status == "failed"
            and n.created_at >= bounds.get("start", float("-inf"))
            and n.created_at < bounds.get("end", float("inf"))
        ]
        return cursor_paged(request, items)

    def guarded(handler: Any) -> Any:
        return authenticated(state, handler)

    return [
        Route("/webhooks", guarded(create), methods=["POST"]),
        Route("/webhooks", guarded(list_hooks), methods=["GET"]),
        Route("/webhooks/{id}", guarded(get_hook), methods=["GET"]),
        Route("/webhooks/{id}", guarded(update_hook), methods=["PATCH", "PUT"]),
        Route("/webhooks/{id}", guarded(delete_hook), methods=["DELETE"]),
        Route("/webhooks/{id}/notifications", guarded(notifications), methods=["GET"]),
        Route("/webhooks/{id}/notifications/failed", guarded(failed), methods=["GET"]),
    ]
