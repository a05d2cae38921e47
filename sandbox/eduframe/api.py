"""The Eduframe sandbox's read API: orders, enrollments, users, catalog variants, planned courses, courses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sandbox.base import json_response
from sandbox.eduframe.responses import error, not_found, paged, parse_id, unauthorized
from sandbox.eduframe.state import EduframeState

Handler = Callable[[Request], Awaitable[Response]]

# (collection, path, model name in 404 messages, integer filters, enumerated filters)
RESOURCES: list[tuple[str, str, str, tuple[str, ...], tuple[str, ...]]] = [
    ("orders", "/orders", "Order", ("catalog_variant_id", "creator_id"), ("status",)),
    (
        "enrollments",
        "/enrollments",
        "Enrollment",
        ("student_id", "planned_course_id", "order_id"),
        ("status",),
    ),
    ("users", "/users", "User", (), ("email",)),
    ("catalog_variants", "/catalog/variants", "Catalog::Variant", ("product_id", "variantable_id"), ()),
    ("planned_courses", "/planned_courses", "PlannedCourse", ("course_id",), ("status",)),
    ("courses", "/courses", "Course", (), ()),
    ("leads", "/leads", "Lead", (), ()),
]

_VARIANTABLE_FILTER = {"planned_course": "PlannedCourse", "program_edition": "Program::Edition"}


def authenticated(state: EduframeState, handler: Handler) -> Handler:
    """``handler`` behind the bearer-token check every Eduframe endpoint makes."""

    async def guarded(request: Request) -> Response:
        rejected = unauthorized(request, state)
        return rejected if rejected is not None else await handler(request)

    return guarded


def select(
    request: Request,
    records: list[dict[str, Any]],
    int_filters: tuple[str, ...],
    enum_filters: tuple[str, ...],
) -> list[dict[str, Any]] | Response:
    """The records matching the query's filters; a non-integer id filter is a 400, as in Eduframe."""
    params = request.query_params
    for name in int_filters:
        raw = params.get(name)
        if raw is None:
            continue
        if not raw.isdigit():
            return error(400, f"Invalid filter {name}", {name: ["must be an integer"]})
        records = [r for r in records if r.get(name) == int(raw)]
    for name in enum_filters:
        wanted = params.getlist(name) or params.getlist(f"{name}[]")
        if wanted:
            records = [r for r in records if str(r.get(name)) in wanted]
    if params.get("with_canceled", "true").lower() in ("false", "0"):
        records = [r for r in records if r.get("status") != "canceled"]
    variantable = params.get("variantable_type")
    if variantable:
        records = [r for r in records if r.get("variantable_type") == _VARIANTABLE_FILTER.get(variantable)]
    return records


def resource_routes(state: EduframeState) -> list[Route]:
    routes: list[Route] = []
    for kind, path, model, int_filters, enum_filters in RESOURCES:

        async def list_records(
            request: Request,
            kind: str = kind,
            ints: tuple[str, ...] = int_filters,
            enums: tuple[str, ...] = enum_filters,
        ) -> Response:
            selected = select(request, list(state.records[kind].values()), ints, enums)
            return selected if isinstance(selected, Response) else paged(request, selected)

        async def get_record(request: Request, kind: str = kind, model: str = model) -> Response:
            raw = request.path_params["id"]
            record_id = parse_id(raw)
            record = state.get(kind, record_id) if record_id is not None else None
            return json_response(record) if record is not None else not_found(model, raw)

        routes.append(Route(path, authenticated(state, list_records), methods=["GET"]))
        routes.append(Route(f"{path}/{{id}}", authenticated(state, get_record), methods=["GET"]))
    return routes


async def unknown_path(request: Request) -> Response:
    return error(404, f"No route matches [{request.method}] {request.url.path}")


def fallback_route() -> Route:
    """Eduframe's error body for every path it does not have, instead of Starlette's plain text."""
    return Route(
        "/{path:path}", unknown_path, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    )
