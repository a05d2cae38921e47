"""The Eduframe sandbox's enrollment changes: cancel (the API's), and what only Eduframe's own screens
do, as sandbox controls: move an enrollment to another planned course, delete a record.

    PUT    /enrollments/{id}/cancel                    → canceled; emits enrollment.updated
    POST   /_sandbox/enrollments/{id}/transfer         {"planned_course_id"}; emits enrollment.updated
    DELETE /_sandbox/records/{kind}/{id}               removes it; emits <resource>.deleted with the
                                                       record as it was (kind: orders, enrollments, …)
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.base import SandboxClock, json_response, read_json
from sandbox.eduframe.api import authenticated
from sandbox.eduframe.delivery import Deliverer
from sandbox.eduframe.records import EVENT_KINDS, iso
from sandbox.eduframe.responses import error, not_found, parse_id
from sandbox.eduframe.state import EduframeState

_RESOURCE_OF_KIND = {kind: resource for resource, kind in EVENT_KINDS.items()}


def _enrollment(state: EduframeState, raw: str) -> dict[str, Any] | None:
    record_id = parse_id(raw)
    return state.get("enrollments", record_id) if record_id is not None else None


def enrollment_routes(
    state: EduframeState, deliverer: Deliverer, clock: SandboxClock
) -> tuple[list[Route], list[Route]]:
    """The API routes, and the sandbox controls (unrecorded, never faulted, no token)."""

    def changed(enrollment: dict[str, Any]) -> Response:
        enrollment["updated_at"] = iso(clock())
        deliverer.emit("enrollment.updated", enrollment)
        return json_response(enrollment)

    async def cancel(request: Request) -> Response:
        enrollment = _enrollment(state, request.path_params["id"])
        if enrollment is None:
            return not_found("Enrollment", request.path_params["id"])
        if enrollment["status"] == "canceled":
            return error(422, "Enrollment is already canceled", {"status": ["is invalid"]})
        enrollment["status"] = "canceled"
        return changed(enrollment)

    async def transfer(request: Request) -> Response:
        enrollment = _enrollment(state, request.path_params["id"])
        if enrollment is None:
            return not_found("Enrollment", request.path_params["id"])
        try:
            body = await read_json(request)
            planned_course_id = int(body["planned_course_id"])
        except (ValueError, TypeError, KeyError):
            return json_response({"error": 'give {"planned_course_id": id}'}, 400)
        if state.get("planned_courses", planned_course_id) is None:
            return not_found("PlannedCourse", planned_course_id)
        enrollment["planned_course_id"] = planned_course_id
        return changed(enrollment)

    async def delete(request: Request) -> Response:
        kind, raw = request.path_params["kind"], request.path_params["id"]
        record_id = parse_id(raw)
        if kind not in _RESOURCE_OF_KIND or record_id is None or record_id not in state.records[kind]:
            return json_response({"error": f"no {kind} record {raw}"}, 404)
        record = state.records[kind].pop(record_id)
        deliverer.emit(f"{_RESOURCE_OF_KIND[kind]}.deleted", record)
        return json_response(record)

    api = [Route("/enrollments/{id}/cancel", authenticated(state, cancel), methods=["PUT"])]
    controls = [
        Route("/_sandbox/enrollments/{id}/transfer", transfer, methods=["POST"]),
        Route("/_sandbox/records/{kind}/{id}", delete, methods=["DELETE"]),
    ]
    return api, controls
