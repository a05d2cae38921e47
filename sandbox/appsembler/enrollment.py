"""Sandbox bulk enrollment and enrollment codes, with Open edX's per-identifier semantics."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.appsembler.auth import StateRef, protected
from sandbox.appsembler.forms import (
    NOT_FOUND,
    Errors,
    bad_request,
    boolean,
    is_course_key,
    read_data,
    require,
)
from sandbox.appsembler.state import EMAIL_RE, Allowed, AppsemblerState
from sandbox.base import json_response

API = "/appsembler_api/v0"
MAX_CODES = 1000
# Open edX's _split_input_list: identifiers split on commas and any whitespace, blanks dropped.
_IDENTIFIER_SPLIT = re.compile(r"[\s,]")


def _courses(value: Any) -> list[str]:
    """DRF StringListField: a list yields its first item; the string is split on commas, NOT trimmed."""
    if not value:
        return []
    if isinstance(value, list):
        value = value[0]
    return str(value).split(",")


def _one(
    state: AppsemblerState, course: str, identifier: str, action: str, auto_enroll: bool
) -> dict[str, Any]:
    """students_update_enrollment for one identifier in one course."""
    if identifier in state.error_identifiers:
        return {"identifier": identifier, "error": True}
    account = state.by_email(identifier) if "@" in identifier else state.by_username(identifier)
    email = account.email if account else identifier
    if account is None and not EMAIL_RE.fullmatch(email):
        return {"identifier": identifier, "invalidIdentifier": True}
    before = state.email_state(course, email)
    allowed = state.allowed.setdefault(course, {})
    if action == "enroll":
        if account is not None:
            state.enroll(course, account.id)
        else:
            allowed[email.lower()] = Allowed(email, auto_enroll)
    else:
        if account is not None:
            state.unenroll(course, account.id)
        allowed.pop(email.lower(), None)
    return {"identifier": identifier, "before": before, "after": state.email_state(course, email)}


def enrollment_routes(current: StateRef) -> list[Route]:
    async def bulk_enroll(request: Request) -> Response:
        data = await read_data(request)
        if isinstance(data, Response):
            return data
        errors: Errors = {}
        require(data, ("identifiers", "action"), errors)
        if data.get("courses") is None:
            errors["courses"] = ["This field is required."]
        action = data.get("action")
        if "action" not in errors and action not in ("enroll", "unenroll"):
            errors["action"] = [f'"{action}" is not a valid choice.']
        if "identifiers" not in errors and not isinstance(data["identifiers"], str | int):
            errors["identifiers"] = ["Not a valid string."]
        courses = _courses(data.get("courses"))
        bad = next((c for c in courses if not is_course_key(c)), None)
        if bad is not None:
            errors["courses"] = [f"Course key not valid: {bad}"]
        auto_enroll = boolean(data, "auto_enroll", errors)
        email_students = boolean(data, "email_students", errors)
        if errors:
            return bad_request(errors)
        state = current()
        # Open edX checks each course exists before touching it, and the request is one transaction:
        # an unknown course means 404 and nothing changed.
        if any(course not in state.courses for course in courses):
            return json_response(NOT_FOUND, 404)
        identifiers = [i for i in _IDENTIFIER_SPLIT.split(str(data["identifiers"])) if i]
        answer: dict[str, Any] = {
            "action": action,
            "auto_enroll": auto_enroll,
            "email_students": email_students,
        }
        answer["courses"] = {
            course: {
                "action": action,
                "results": [_one(state, course, i, str(action), auto_enroll) for i in identifiers],
                "auto_enroll": auto_enroll,
            }
            for course in courses
        }
        return json_response(answer)

    async def generate(request: Request) -> Response:
        data = await read_data(request)
        if isinstance(data, Response):
            return data
        errors: Errors = {}
        require(data, ("course_id", "total_registration_codes"), errors)
        course_id = data.get("course_id")
        if "course_id" not in errors and not (isinstance(course_id, str) and is_course_key(course_id)):
            errors["course_id"] = [f"Course key not valid: {course_id}"]
        total = 0
        if "total_registration_codes" not in errors:
            try:
                # The deployed view does int(), falling back to int(float()) for "20.0".
                total = int(float(data["total_registration_codes"]))
                if not 0 <= total <= MAX_CODES:
                    errors["total_registration_codes"] = [f"Ensure this value is between 0 and {MAX_CODES}."]
            except (TypeError, ValueError):
                errors["total_registration_codes"] = ["A valid integer is required."]
        if errors:
            return bad_request(errors)
        state = current()
        if course_id not in state.courses:
            return json_response(NOT_FOUND, 404)
        codes = [state.new_code(str(course_id)).code for _ in range(total)]
        return json_response(
            {"course_id": course_id, "codes": codes, "course_url": f"/courses/{course_id}/about"}
        )

    async def enroll_user(request: Request) -> Response:
        data = await read_data(request)
        if isinstance(data, Response):
            return data
        errors: Errors = {}
        require(data, ("email", "enrollment_code"), errors)
        if errors:
            return bad_request(errors)
        state = current()
        account = state.by_email(str(data["email"]))
        code = state.codes.get(str(data["enrollment_code"]))
        reason = None
        if code is None:
            reason = "Enrollment code not found"
        elif account is None:
            reason = "User not found"
        elif not code.valid or code.redeemed_by is not None:
            reason = "Enrollment code error."
        elif state.is_enrolled(code.course_id, account.id):
            reason = "Already enrolled."
        if reason is not None or code is None or account is None:
            return json_response({"success": False, "reason": reason}, 400)
        state.enroll(code.course_id, account.id)
        code.redeemed_by = account.id
        return json_response({"success": True})

    async def code_status(request: Request) -> Response:
        data = await read_data(request)
        if isinstance(data, Response):
            return data
        errors: Errors = {}
        require(data, ("enrollment_code", "action"), errors)
        action = data.get("action")
        if "action" not in errors and action not in ("cancel", "restore"):
            errors["action"] = [f'"{action}" is not a valid choice.']
        if errors:
            return bad_request(errors)
        state = current()
        value = str(data["enrollment_code"])
        code = state.codes.get(value)
        if code is None:
            return json_response(
                {"success": False, "reason": f"The enrollment code ({value}) was not found"}, 400
            )
        # Both actions undo a redemption (unenrolling its user); they differ in what the code becomes.
        if code.redeemed_by is not None:
            state.unenroll(code.course_id, code.redeemed_by)
            code.redeemed_by = None
        code.valid = action == "restore"
        return json_response({"success": True})

    return [
        Route(f"{API}/bulk-enrollment/bulk-enroll", protected(current, bulk_enroll), methods=["POST"]),
        Route(f"{API}/enrollment-codes/generate", protected(current, generate), methods=["POST"]),
        Route(f"{API}/enrollment-codes/enroll-user", protected(current, enroll_user), methods=["POST"]),
        Route(f"{API}/enrollment-codes/status", protected(current, code_status), methods=["POST"]),
    ]
