"""Sandbox account endpoints (create, get-user) and the two analytics batches."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.appsembler.auth import StateRef, protected
from sandbox.appsembler.forms import Errors, bad_request, is_course_key, read_data, require
from sandbox.appsembler.state import EMAIL_RE, iso
from sandbox.base import json_response

API = "/appsembler_api/v0"
# Open edX usernames: 2-30 of letters, digits and . @ _ + -
_USERNAME_RE = re.compile(r"[\w.@+-]{2,30}")
_GET_USER_RE = re.compile(r"[\w.+-]+")
WRONG_PARAMETERS = {"user_message": "Wrong parameters on user creation"}
ALREADY_EXISTS = {"user_message": "User already exists"}


def _moment(value: str) -> float:
    """``YYYY-MM-DD`` or an ISO datetime (``Z`` allowed); naive values are UTC."""
    moment = datetime.fromisoformat(value.strip())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _window(request: Request, errors: Errors) -> tuple[float, float]:
    bounds = [float("-inf"), float("inf")]
    for index, name in enumerate(("updated_min", "updated_max")):
        raw = request.query_params.get(name, "")
        if raw:
            try:
                bounds[index] = _moment(raw)
            except ValueError:
                errors[name] = ["Invalid date."]
    return bounds[0], bounds[1]


def account_routes(current: StateRef) -> list[Route]:
    async def create(request: Request) -> Response:
        data = await read_data(request)
        if isinstance(data, Response):
            return data
        errors: Errors = {}
        require(data, ("username", "password", "email", "name"), errors)
        if errors:
            return bad_request(errors)
        state = current()
        username, email, name, password = (data["username"], data["email"], data["name"], data["password"])
        taken = (isinstance(email, str) and state.by_email(email)) or (
            isinstance(username, str) and state.by_username(username)
        )
        if taken:
            return json_response(ALREADY_EXISTS, 409)
        values = (username, email, name, password)
        if (
            not all(isinstance(v, str) for v in values)
            or not _USERNAME_RE.fullmatch(username)
            or not EMAIL_RE.fullmatch(email)
            or len(email) > 254
            or len(name) > 255
        ):
            # The deployed view collapses Open edX's field errors into this one message.
            return json_response(WRONG_PARAMETERS, 400)
        account = state.add_account(username, email, name, password)
        if state.late_answers:
            await asyncio.sleep(state.late_answers.pop(0))  # created already: only the answer is late
        # The trailing space in the key is what Appsembler really sends.
        return json_response({"user_id ": account.id})

    async def get_user(request: Request) -> Response:
        username = request.path_params["username"]
        account = current().by_username(username) if _GET_USER_RE.fullmatch(username) else None
        if account is None:
            return Response(status_code=404)
        return json_response({"user_id": account.username})

    async def accounts_batch(request: Request) -> Response:
        errors: Errors = {}
        low, high = _window(request, errors)
        if errors:
            return bad_request(errors)
        rows = [
            {
                "id": a.id,
                "username": a.username,
                "email": a.email,
                "is_active": a.is_active,
                "date_joined": iso(a.date_joined),
            }
            for a in current().accounts
            if low < a.date_joined < high
        ]
        return json_response(rows)

    async def enrollment_batch(request: Request) -> Response:
        errors: Errors = {}
        low, high = _window(request, errors)
        # Django turns an unescaped '+' into a space; Appsembler's view turns it back.
        course_id = request.query_params.get("course_id", "").replace(" ", "+")
        if course_id and not is_course_key(course_id):
            errors["course_id"] = [f"Course key not valid: {course_id}"]
        if errors:
            return bad_request(errors)
        state = current()
        rows: list[dict[str, Any]] = []
        # Every row, also deactivated ones: Appsembler's batch does not filter on is_active.
        for course, enrollments in state.enrollments.items():
            if course_id and course != course_id:
                continue
            for row in enrollments.values():
                account = state.by_id(row.user_id)
                if account is None or not low < row.created < high:
                    continue
                rows.append(
                    {
                        "enrollment_id": row.id,
                        "user_id": row.user_id,
                        "username": account.username,
                        "course_id": row.course_id,
                        "date_enrolled": iso(row.created),
                    }
                )
        rows.sort(key=lambda r: r["enrollment_id"])
        return json_response(rows)

    return [
        Route(f"{API}/accounts/create", protected(current, create), methods=["POST"]),
        Route(f"{API}/accounts/get-user/{{username}}", protected(current, get_user), methods=["GET"]),
        Route(f"{API}/analytics/accounts/batch", protected(current, accounts_batch), methods=["GET"]),
        Route(f"{API}/analytics/enrollment/batch", protected(current, enrollment_batch), methods=["GET"]),
    ]
