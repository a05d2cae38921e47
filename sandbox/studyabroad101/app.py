"""StudyAbroad101 sandbox routes: signed reads of leads, reviews and answers, plus runtime seeding."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.base import SandboxClock, SandboxCore, build_sandbox_app, json_response, read_json
from sandbox.studyabroad101.auth import check_request
from sandbox.studyabroad101.seed import default_seed, spread_leads
from sandbox.studyabroad101.state import StudyAbroad101State, record_day

DEFAULT_LIMIT = 20

Endpoint = Callable[[Request], Awaitable[Response]]


class BadParameter(ValueError):
    """A query parameter the sandbox cannot read (the partner documents no format for this)."""


def _error(error: str, message: str, status: int) -> Response:
    return json_response({"error": error, "message": message}, status)


def _date_param(request: Request, name: str) -> date | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadParameter(f"{name} must be YYYY-MM-DD") from exc


def _int_param(request: Request, name: str, default: int | None, minimum: int) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise BadParameter(f"{name} must be an integer") from exc
    if number < minimum:
        raise BadParameter(f"{name} must be at least {minimum}")
    return number


def select(records: dict[int, dict[str, Any]], request: Request) -> list[dict[str, Any]]:
    """Filter by date (both bounds exclusive, as "after"/"before" read) and program; then page by id."""
    after = _date_param(request, "created_after")
    before = _date_param(request, "created_before")
    program_id = _int_param(request, "program_id", None, 0)
    offset = _int_param(request, "offset", 0, 0) or 0
    limit = _int_param(request, "limit", DEFAULT_LIMIT, 1) or DEFAULT_LIMIT
    chosen = [
        record
        for _, record in sorted(records.items())
        if (after is None or record_day(record) > after)
        and (before is None or record_day(record) < before)
        and (program_id is None or record.get("program_id") == program_id)
    ]
    return chosen[offset : offset + limit]


def create_app(seed: dict[str, Any] | None = None, *, clock: SandboxClock | None = None) -> Starlette:
    """The StudyAbroad101 sandbox; ``seed`` as in the package docstring (default: the docs' data)."""
    initial = copy.deepcopy(seed) if seed is not None else default_seed()
    core = SandboxCore(name="studyabroad101", clock=clock or SandboxClock())
    holder = {"state": StudyAbroad101State.from_seed(initial)}

    def state() -> StudyAbroad101State:
        return holder["state"]

    def signed(endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            failure = check_request(request.scope, state().users, core.clock())
            if failure is not None:
                return _error(failure.error, failure.message, 401)
            try:
                return await endpoint(request)
            except BadParameter as exc:
                return _error("InvalidParameter", str(exc), 400)

        return guarded

    @signed
    async def list_leads(request: Request) -> Response:
        return json_response(select(state().leads, request))

    @signed
    async def get_lead(request: Request) -> Response:
        # The partner answers with an array; an unknown id gives an empty one.
        lead = state().leads.get(request.path_params["lead_id"])
        return json_response([lead] if lead is not None else [])

    @signed
    async def list_reviews(request: Request) -> Response:
        return json_response(select(state().reviews, request))

    @signed
    async def list_answers(request: Request) -> Response:
        return json_response(state().answers.get(request.path_params["review_id"], []))

    async def add_seed(request: Request) -> Response:
        try:
            data = await read_json(request)
            if not isinstance(data, dict):
                raise ValueError("expected an object with users, leads, reviews and/or answers")
            state().load(data)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(state().counts())

    async def add_leads(request: Request) -> Response:
        """``{"count": 250, "days": 5, "first_day": "2026-11-01", "program_ids": [7]}``: new leads with
        ids after the highest one held, spread over the days (first_day defaults to today)."""
        try:
            data = await read_json(request)
            if not isinstance(data, dict):
                raise ValueError("expected an object with count, and optionally days, first_day, program_ids")
            first = data.get("first_day")
            leads = spread_leads(
                int(data["count"]),
                days=int(data.get("days", 1)),
                first_day=date.fromisoformat(first) if first else date.fromtimestamp(core.clock()),
                start_id=max(state().leads, default=0) + 1,
                program_ids=[int(p) for p in data.get("program_ids", [1])] or [1],
            )
            state().load({"leads": leads})
        except (KeyError, TypeError, ValueError) as exc:
            return json_response({"error": f"cannot add leads: {exc}"}, 400)
        return json_response({"added": [lead["id"] for lead in leads], **state().counts()})

    def reset() -> None:
        holder["state"] = StudyAbroad101State.from_seed(initial)

    routes = [
        Route("/api/leads", list_leads, methods=["GET"]),
        Route("/api/leads/{lead_id:int}", get_lead, methods=["GET"]),
        Route("/api/reviews", list_reviews, methods=["GET"]),
        Route("/api/reviews/{review_id:int}/answers", list_answers, methods=["GET"]),
    ]
    app = build_sandbox_app(
        core,
        routes,
        reset=reset,
        state=lambda: state().counts(),
        extra_control=[
            Route("/_sandbox/seed", add_seed, methods=["POST"]),
            Route("/_sandbox/studyabroad101/leads", add_leads, methods=["POST"]),
        ],
    )
    app.state.studyabroad101 = holder
    return app
