"""Builds the Appsembler sandbox app: partner routes, token endpoint and ``/_sandbox`` controls."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.appsembler.accounts import account_routes
from sandbox.appsembler.auth import token_route
from sandbox.appsembler.enrollment import enrollment_routes
from sandbox.appsembler.forms import is_course_key
from sandbox.appsembler.state import AppsemblerState, build_state
from sandbox.base import SandboxClock, SandboxCore, build_sandbox_app, json_response, read_json


class _Holder:
    """The current state; ``POST /_sandbox/reset`` swaps in a fresh one built from the same seed."""

    def __init__(self, seed: dict[str, Any] | None, clock: SandboxClock) -> None:
        self.seed = seed
        self.clock = clock
        self.state = build_state(seed, clock)

    def __call__(self) -> AppsemblerState:
        return self.state

    def reset(self) -> None:
        self.state = build_state(self.seed, self.clock)


def _control_routes(holder: _Holder) -> list[Route]:
    async def read_list(request: Request, key: str) -> list[str] | Response:
        try:
            data = await read_json(request)
            items = data[key] if isinstance(data, dict) else None
        except (ValueError, KeyError):
            items = None
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            return json_response({"error": f'expected {{"{key}": ["..."]}}'}, 400)
        return items

    async def add_identifier_errors(request: Request) -> Response:
        items = await read_list(request, "identifiers")
        if isinstance(items, Response):
            return items
        holder.state.error_identifiers.update(items)
        return json_response({"error_identifiers": sorted(holder.state.error_identifiers)})

    async def clear_identifier_errors(request: Request) -> Response:
        holder.state.error_identifiers.clear()
        return json_response({"error_identifiers": []})

    async def add_courses(request: Request) -> Response:
        items = await read_list(request, "courses")
        if isinstance(items, Response):
            return items
        bad = [c for c in items if not is_course_key(c)]
        if bad:
            return json_response({"error": f"not course keys: {', '.join(bad)}"}, 400)
        holder.state.courses.extend(c for c in items if c not in holder.state.courses)
        return json_response({"courses": holder.state.courses})

    async def add_late_answers(request: Request) -> Response:
        try:
            data = await read_json(request)
            delay, count = float(data.get("delay", 2.0)), int(data.get("count", 1))
        except (ValueError, TypeError, AttributeError):
            delay, count = 0.0, 0
        if delay <= 0 or count < 1:
            return json_response({"error": 'expected {"delay": seconds above 0, "count": at least 1}'}, 400)
        holder.state.late_answers.extend([delay] * count)
        return json_response({"late_answers": holder.state.late_answers})

    return [
        Route("/_sandbox/late-answers", add_late_answers, methods=["POST"]),
        Route("/_sandbox/identifier-errors", add_identifier_errors, methods=["POST"]),
        Route("/_sandbox/identifier-errors", clear_identifier_errors, methods=["DELETE"]),
        Route("/_sandbox/courses", add_courses, methods=["POST"]),
    ]


def create_app(seed: dict[str, Any] | None = None, *, clock: SandboxClock | None = None) -> Starlette:
    """The Appsembler sandbox; ``seed`` as described in the package docstring (None: the default)."""
    core = SandboxCore(name="appsembler", clock=clock or SandboxClock())
    holder = _Holder(seed, core.clock)
    routes = [token_route(holder), *account_routes(holder), *enrollment_routes(holder)]
    return build_sandbox_app(
        core,
        routes,
        reset=holder.reset,
        state=lambda: holder.state.to_json(),
        extra_control=_control_routes(holder),
    )
