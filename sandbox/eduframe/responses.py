"""How the Eduframe sandbox answers: error bodies, bearer-token checks and paged lists with ``Link``."""

from __future__ import annotations

import base64
import hmac
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from sandbox.base import json_response
from sandbox.eduframe.state import EduframeState

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100

_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
}


def error(status: int, message: str | None = None, errors: dict[str, list[str]] | None = None) -> Response:
    """Eduframe's error body: ``{"errors": {...}, "code": N, "message": "..."}``."""
    body = {"errors": errors or {}, "code": status, "message": message or _REASONS.get(status, "Error")}
    return json_response(body, status)


def not_found(model: str, record_id: object) -> Response:
    return error(404, f"Couldn't find {model} with 'id'={record_id}")


def unauthorized(request: Request, state: EduframeState) -> Response | None:
    """``None`` when the request carries the sandbox's token as ``Authorization: Bearer``, else the 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), state.api_token.encode()):
        return None
    message = "No API token given" if not header else "The API token is invalid"
    return error(401, message)


def parse_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() else None


def page_window(request: Request) -> tuple[int, int] | Response:
    """``(page, per_page)`` from the query; per_page above 100 is capped to 100 as the docs describe."""
    params = request.query_params
    problems: dict[str, list[str]] = {}
    values: dict[str, int] = {}
    for name, default in (("page", 1), ("per_page", DEFAULT_PER_PAGE)):
        raw = params.get(name)
        if raw is None or raw == "":
            values[name] = default
        elif raw.lstrip("-").isdigit() and int(raw) >= 1:
            values[name] = int(raw)
        else:
            problems[name] = ["must be an integer greater than or equal to 1"]
    if problems:
        return error(400, "Invalid pagination parameters", problems)
    return values["page"], min(values["per_page"], MAX_PER_PAGE)


def paged(request: Request, items: list[dict[str, Any]]) -> Response:
    """One page of ``items`` with ``Link: <…>; rel="next", <…>; rel="last"`` when there are more pages."""
    window = page_window(request)
    if isinstance(window, Response):
        return window
    page, per_page = window
    last = max(1, -(-len(items) // per_page))
    start = (page - 1) * per_page
    links = []
    if page < last:
        links.append(f'<{_page_url(request, page + 1, per_page)}>; rel="next"')
    if last > 1:
        links.append(f'<{_page_url(request, last, per_page)}>; rel="last"')
    headers = {"Link": ", ".join(links)} if links else None
    return json_response(items[start : start + per_page], 200, headers)


def cursor_paged(request: Request, items: list[dict[str, Any]]) -> Response:
    """One page of ``items`` after the ``cursor`` (an opaque token naming the last id served), with
    ``Link: <…>; rel="next"`` while more follow. Unlike page numbers, a cursor does not shift
    when items are added while a client pages through, as Eduframe's cursor-paged lists do."""
    raw = request.query_params.get("per_page")
    if raw is not None and raw != "" and not (raw.isdigit() and int(raw) >= 1):
        return error(400, "Invalid pagination parameters", {"per_page": ["must be an integer >= 1"]})
    per_page = min(int(raw), MAX_PER_PAGE) if raw else DEFAULT_PER_PAGE
    start = 0
    cursor = request.query_params.get("cursor")
    if cursor:
        ids = [str(item["id"]) for item in items]
        after = _cursor_id(cursor)
        if after is None or after not in ids:
            return error(400, "Invalid cursor", {"cursor": ["is not a cursor of this list"]})
        start = ids.index(after) + 1
    page = items[start : start + per_page]
    headers = None
    if start + per_page < len(items):
        pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in ("cursor", "per_page")]
        pairs += [("cursor", _cursor_of(str(page[-1]["id"]))), ("per_page", str(per_page))]
        headers = {"Link": f'<{request.url.replace(query=urlencode(pairs))}>; rel="next"'}
    return json_response(page, 200, headers)


def _cursor_of(item_id: str) -> str:
    return base64.urlsafe_b64encode(item_id.encode()).decode("ascii")


def _cursor_id(cursor: str) -> str | None:
    try:
        return base64.urlsafe_b64decode(cursor.encode("ascii")).decode()
    except (ValueError, UnicodeError):
        return None


def _page_url(request: Request, page: int, per_page: int) -> str:
    # Keep the caller's filters (repeated keys included) so the next page is the same list.
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "per_page")]
    pairs += [("page", str(page)), ("per_page", str(per_page))]
    return str(request.url.replace(query=urlencode(pairs)))
