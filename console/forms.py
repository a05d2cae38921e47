"""Reading what the browser sends: bounded forms, and event filters from a query string.

Anything malformed is a :class:`BadInput` (a 4xx page), never a traceback.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from urllib.parse import parse_qs

from starlette.requests import Request

from eduhook.ledger.filters import EventFilter
from eduhook.ledger.schema import EVENT_STATUSES

MAX_FORM_BYTES = 256 * 1024  # about 5,000 event ids
MAX_FIELD = 256  # characters in one filter value
ERROR_CLASSES = ("transient", "permanent", "configuration", "unexpected", "lost", "deferred")
FILTER_FIELDS = ("status", "type", "educator", "partner", "error_class", "since", "until")


class BadInput(Exception):
    """Input the console refuses, with the status code and a message for the page."""

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class Form:
    """A url-encoded form: the last value of a field, or every value of it."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def get(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None

    def getlist(self, name: str) -> list[str]:
        return self.fields.get(name, [])


async def read_form(request: Request, limit: int = MAX_FORM_BYTES) -> Form:
    """The request's url-encoded form; 413 past ``limit`` bytes, 415 for another encoding."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in ("application/x-www-form-urlencoded", ""):
        raise BadInput("send the form url-encoded", 415)
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise BadInput(f"the form is larger than {limit // 1024} KiB", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BadInput(f"the form is larger than {limit // 1024} KiB", 413)
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, max_num_fields=10_000, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput("the form cannot be read") from exc
    return Form(fields)


def parse_time(name: str, value: str) -> dt.datetime:
    """An ISO date or time from a filter; one without a zone is UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadInput(
            f"{name}: {value[:40]!r} is not a date or time, e.g. 2026-12-01 or 2026-12-01T09:30"
        ) from exc
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def event_filter(values: Mapping[str, str], *, status: str | None = None) -> EventFilter:
    """The filter the query (or form) names; ``status`` fixes the status (the dead-letter page)."""
    given = {k: values.get(k, "").strip() for k in FILTER_FIELDS}
    for name, value in given.items():
        if len(value) > MAX_FIELD or any(ord(c) < 32 for c in value):
            raise BadInput(f"{name}: at most {MAX_FIELD} printable characters")
    chosen = status or given["status"] or None
    if chosen is not None and chosen not in EVENT_STATUSES:
        raise BadInput(f"status: one of {', '.join(EVENT_STATUSES)}")
    if given["error_class"] and given["error_class"] not in ERROR_CLASSES:
        raise BadInput(f"error_class: one of {', '.join(ERROR_CLASSES)}")
    since = parse_time("since", given["since"]) if given["since"] else None
    until = parse_time("until", given["until"]) if given["until"] else None
    if since and until and since >= until:
        raise BadInput("since must be before until")
    return EventFilter(
        status=chosen,
        event_type=given["type"] or None,
        educator=given["educator"] or None,
        partner=given["partner"] or None,
        error_class=given["error_class"] or None,
        since=since,
        until=until,
    )


def filter_query(where: EventFilter) -> dict[str, str]:
    """The query-string fields that give ``where`` back (for links and hidden form fields)."""
    described = where.describe()
    names = {"event_type": "type"}
    return {names.get(k, k): str(v) for k, v in described.items()}
