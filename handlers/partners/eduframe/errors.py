"""The one place where Eduframe's statuses and error bodies become eduhook's error tree.

Eduframe answers errors with ``{"errors": {...}, "code": N, "message": "..."}``:

    401, 403        ConfigurationError: the token (EDUFRAME_API_TOKEN) is wrong or lacks a scope
    404             PermanentError "order 123 not found"
    400, 409, 422   PermanentError naming the fields in ``errors`` (never their values)
    429, 5xx        TransientError with the ``Retry-After`` delay when one is sent

Validation messages can echo what was sent (names, emails), so for 400/409/422 only the keys of
``errors`` and the code reach our messages; other statuses carry Eduframe's generic ``message``.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import orjson

from handlers.errors import ConfigurationError, PermanentError
from handlers.partners._http import Clock, raise_for_status

PARTNER = "eduframe"
_VALIDATION_STATUSES = frozenset({400, 409, 422})
_MAX_MESSAGE = 160


def error_body(response: httpx.Response) -> dict[str, Any]:
    """Eduframe's error object, or ``{}`` when the body is not one."""
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(status: int, body: dict[str, Any]) -> str | None:
    errors = body.get("errors")
    if status in _VALIDATION_STATUSES:
        fields = sorted(str(key) for key in errors) if isinstance(errors, dict) else []
        return f"invalid fields: {', '.join(fields)}" if fields else "rejected"
    message = body.get("message")
    if isinstance(message, str) and message.strip():
        return message.strip()[:_MAX_MESSAGE]
    return None


def raise_for_response(
    response: httpx.Response,
    *,
    what: str,
    resource: str | None = None,
    now: Clock = time.time,
) -> None:
    """Raise the classified error for a non-2xx answer; ``resource`` names it for 404s ("order 123")."""
    status = response.status_code
    if status < 400:
        return
    body = error_body(response)
    code = body.get("code")
    partner_code = str(code) if isinstance(code, int | float | str) and code != "" else None
    if status in (401, 403):
        problem = (
            "Eduframe rejected the API token; check EDUFRAME_API_TOKEN"
            if status == 401
            else "the Eduframe API token lacks the permission (scope) for this call; check EDUFRAME_API_TOKEN"
        )
        raise ConfigurationError(
            f"{what}: {problem}", partner=PARTNER, status_code=status, partner_code=partner_code
        )
    if status == 404 and resource:
        raise PermanentError(
            f"{resource} not found", partner=PARTNER, status_code=status, partner_code=partner_code
        )
    raise_for_status(
        response,
        partner=PARTNER,
        what=what,
        detail=_detail(status, body),
        partner_code=partner_code,
        now=now,
    )
