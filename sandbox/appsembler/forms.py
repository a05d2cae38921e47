"""Request bodies and field errors the way Django REST framework parses and reports them."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.requests import Request
from starlette.responses import Response

from sandbox.appsembler.state import COURSE_KEY_RE
from sandbox.base import json_response

REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NOT_FOUND = {"detail": "Not found."}
# True == 1 and False == 0, so the JSON numbers 1 and 0 match too.
_TRUE = {True, "1", "true", "True", "TRUE", "yes", "on"}
_FALSE = {False, "0", "false", "False", "FALSE", "no", "off"}

Errors = dict[str, list[str]]


async def read_data(request: Request) -> dict[str, Any] | Response:
    """JSON or form body as a dict, else the 400/415 DRF would send. An empty body is ``{}``."""
    raw = await request.body()
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
    if ctype == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode("utf-8", "replace")))
    if ctype != "application/json":
        return json_response({"detail": f'Unsupported media type "{ctype}" in request.'}, 415)
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return json_response({"detail": f"JSON parse error - {exc}"}, 400)
    if not isinstance(data, dict):
        kind = type(data).__name__
        return json_response(
            {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}, 400
        )
    return data


def require(data: dict[str, Any], names: tuple[str, ...], errors: Errors) -> None:
    """Record DRF's required/blank errors for ``names``."""
    for name in names:
        value = data.get(name)
        if value is None:
            errors[name] = [REQUIRED]
        elif isinstance(value, str) and not value.strip():
            errors[name] = [BLANK]


def boolean(data: dict[str, Any], name: str, errors: Errors) -> bool:
    value = data.get(name, False)
    if isinstance(value, bool | int | str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    errors[name] = ["Must be a valid boolean."]
    return False


def is_course_key(value: str) -> bool:
    return COURSE_KEY_RE.fullmatch(value) is not None


def bad_request(errors: Errors) -> Response:
    return json_response(errors, 400)
