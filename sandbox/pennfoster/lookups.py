"""The Penn Foster sandbox's read side and cancel requests: learner lookups, paging, organizations."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response

from sandbox.base import json_response
from sandbox.pennfoster.checks import MEANINGS, Item
from sandbox.pennfoster.state import PennFosterState

LOOKUP_FIELDS = (
    "organization_id",
    "location_id",
    "client_id",
    "learner_id",
    "alternate_id",
    "first_name",
    "last_name",
    "email_address",
    "program_id",
    "program_name",
    "active_status",
    "date_enrolled",
    "date_last_active",
    "date_completed",
    "expiration_date",
)


def error_response(status: int, text: str, errors: list[dict[str, str]] | None = None) -> Response:
    body: dict[str, Any] = {"message": text}
    if errors is not None:
        body["errors"] = errors
    return json_response(body, status)


def _code(code: str) -> list[dict[str, str]]:
    return [{"error_code": code, "message": MEANINGS[code]}]


def public(record: dict[str, Any]) -> dict[str, Any]:
    return {key: record.get(key) for key in LOOKUP_FIELDS}


def rows(learners: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lookups' records: one per learner and program, as in the doc's examples, where one
    learner id appears once per program (a learner with none yet gives one bare record)."""
    found = []
    for learner in learners:
        person = {key: value for key, value in learner.items() if key != "enrollments"}
        found += [{**person, **enrollment} for enrollment in learner["enrollments"]] or [person]
    return found


def latest(learner: dict[str, Any]) -> dict[str, Any]:
    """The record a lookup by student id answers with: "one learner object", its latest program."""
    return public(rows([learner])[-1])


def _number(value: str) -> int | str:
    # The doc's receipt shows student_id as a number.
    return int(value) if value.isdigit() else value


def learner_page(records: list[dict[str, Any]], params: Mapping[str, str]) -> Response:
    """A page of learners in the lookup shape; ``page_number``/``rows_per_page`` from ``params``."""
    try:
        page = int(params.get("page_number", "1"))
        rows = int(params.get("rows_per_page", "25"))
    except ValueError:
        return error_response(400, "The request is invalid: page_number and rows_per_page must be numbers.")
    if not (1 <= page <= 99999 and 1 <= rows <= 99999):
        return error_response(400, "The request is invalid: page_number and rows_per_page must be 1-99999.")
    chunk = records[(page - 1) * rows : page * rows]
    return json_response(
        {
            "page_number": page,
            "page_count": math.ceil(len(records) / rows),
            "record_count": len(records),
            "results": [public(r) for r in chunk],
        }
    )


def find_learners(state: PennFosterState, params: Mapping[str, str]) -> Response:
    """``GET /learners`` by ``student_id``, ``alternate_id`` or ``organization_id`` (paged)."""
    if "student_id" in params:
        learner = state.by_student_id(params["student_id"])
        return json_response(latest(learner)) if learner else error_response(404, "Learner not found.")
    if "alternate_id" in params:
        return learner_page(rows(state.by_alternate_id(params["alternate_id"])), params)
    org = params.get("organization_id", "")
    if not org:
        return error_response(
            400, "The request is invalid: organization_id, alternate_id or student_id is required."
        )
    if not org.isdigit() or int(org) not in state.organizations:
        return error_response(404, "Organization not found.", _code("E607100001"))
    records = [r for r in rows(state.learners) if r["organization_id"] == int(org)]
    for key in ("location_id", "client_id"):
        if params.get(key, "").isdigit():
            records = [r for r in records if r[key] == int(params[key])]
    return learner_page(records, params)


def record_cancel(state: PennFosterState, body: dict[str, Any]) -> Response:
    """Validate and record a cancel request; the receipt names the learner it applies to."""
    item = Item()
    student_id = item.text(body, "student_id", "student_id", 8)
    alternate_id = item.text(body, "alternate_id", "alternate_id", 75)
    program_id = item.text(body, "program_id", "program_id", 15)
    for key, code in (
        ("organization_id", "E607100001"),
        ("location_id", "E607200001"),
        ("client_id", "E607300001"),
    ):
        if body.get(key) is not None:
            item.ident(body, key, key, 8, code)
    if item.errors:
        return error_response(400, "The request is invalid.", item.errors)
    if not student_id and not alternate_id:
        return error_response(400, "An Alternate ID or Student ID is required.")
    if alternate_id and not student_id and not program_id:
        return error_response(400, "If an Alternate ID is provided, then a Program ID is required.")
    if student_id:
        learners = [learner] if (learner := state.by_student_id(student_id)) else []
    else:
        learners = state.by_alternate_id(alternate_id or "")
    found = [
        r
        for r in rows(learners)
        if r.get("program_id") and r["program_id"] == (program_id or r["program_id"])
    ]
    if not found:
        return error_response(404, "Learner not found.")
    learner = found[0]
    receipt = {
        "resource_id": state.next_resource_id,
        "organization_id": learner["organization_id"],
        "location_id": learner["location_id"],
        "client_id": learner["client_id"],
        "student_id": _number(learner["learner_id"]),
        "alternate_id": learner["alternate_id"],
        "program_id": learner["program_id"],
    }
    state.next_resource_id += 1
    state.cancel_requests.append({**receipt, "status": "requested"})
    return json_response(receipt)


def organization(state: PennFosterState, p: Mapping[str, int]) -> Response:
    """The organization tree, narrowed to the location and client in the path when given."""
    org = state.organizations.get(p["org"])
    if org is None:
        return error_response(404, "Organization not found.", _code("E607100001"))
    if "loc" not in p:
        return json_response(org)
    loc = state.location(p["org"], p["loc"])
    if loc is None:
        return error_response(404, "Location not found.", _code("E607200001"))
    if "client" in p:
        client = state.client(p["org"], p["loc"], p["client"])
        if client is None:
            return error_response(404, "Client not found.", _code("E607300001"))
        loc = {**loc, "clients": [client]}
    return json_response({**org, "locations": [loc]})
