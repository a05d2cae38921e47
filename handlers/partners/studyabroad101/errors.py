"""The one place where StudyAbroad101 statuses and auth error names become eduhook's error tree.

The partner documents six authentication error names but neither the status nor the body they come
in. We therefore look for a known name in any answer that is not a successful JSON array: in a JSON
object's ``error``/``code``/``message``/``errors`` values, or in a plain-text body. The sandbox answers
``401 {"error": "<Name>", "message": "..."}``.

``AuthTimeDifference`` is transient: the partner allows 60 s of skew and either clock may be the one
that drifted (an NTP step on our worker fixes itself), so a later attempt with a fresh date can pass.
A persistent skew exhausts the retries and dead-letters with the partner code visible. The other five
names can only be fixed by changing our configuration, so they are ``ConfigurationError``.
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

import httpx
import orjson

from handlers.errors import ConfigurationError, TransientError
from handlers.partners._http import Clock, json_body, raise_for_status

PARTNER = "studyabroad101"

AUTH_ERROR_HINTS: dict[str, str] = {
    "AuthHeaderMissing": "the X-A101-Auth header was not sent",
    "ClientHeaderMissing": "the X-A101-User header was not sent",
    "DateHeaderMissing": "the X-A101-Date header was not sent",
    "InvalidClient": "STUDYABROAD101_API_USER is not registered with the partner",
    "InvalidSignature": "the X-A101-Auth signature was rejected; check STUDYABROAD101_API_KEY",
    "AuthTimeDifference": "our clock and the partner's differ by more than 60 s",
}
TRANSIENT_AUTH_ERRORS = frozenset({"AuthTimeDifference"})


def _name_in(body: Any) -> str | None:
    candidates: list[Any] = []
    if isinstance(body, dict):
        candidates = [body.get(key) for key in ("error", "code", "errors", "message")]
    elif isinstance(body, str):
        candidates = [body]
    for candidate in candidates:
        values = candidate if isinstance(candidate, list) else [candidate]
        for value in values:
            if isinstance(value, str) and value in AUTH_ERROR_HINTS:
                return value
    return None


def auth_error_name(response: httpx.Response) -> str | None:
    """The documented auth error name carried by ``response``'s body, if any."""
    try:
        return _name_in(orjson.loads(response.content))
    except orjson.JSONDecodeError:
        text = response.content[:2000].decode("utf-8", "replace")
        return next((name for name in AUTH_ERROR_HINTS if name in text), None)


def _raise_auth_error(name: str, *, what: str, status: int) -> NoReturn:
    hint = AUTH_ERROR_HINTS[name]
    if name in TRANSIENT_AUTH_ERRORS:
        raise TransientError(f"{what}: {hint}", partner=PARTNER, status_code=status, partner_code=name)
    raise ConfigurationError(f"{what}: {hint}", partner=PARTNER, status_code=status, partner_code=name)


def decode_response(
    response: httpx.Response, *, what: str, missing_ok: bool = False, now: Clock = time.time
) -> Any:
    """The JSON body of a successful answer; every failure raised as its class in the error tree.

    With ``missing_ok`` a 404 reads as an empty list, the answer the partner gives for an unknown id.
    """
    status = response.status_code
    if status == 404 and missing_ok:
        return []
    if status >= 400:
        name = auth_error_name(response) if status < 500 else None
        if name is not None:
            _raise_auth_error(name, what=what, status=status)
        if status in (401, 403):
            raise ConfigurationError(
                f"{what}: credentials rejected (HTTP {status}); check STUDYABROAD101_API_USER and _API_KEY",
                partner=PARTNER,
                status_code=status,
            )
        raise_for_status(response, partner=PARTNER, what=what, now=now)
    body = json_body(response, partner=PARTNER, what=what)
    # An error object with a 2xx status must not pass for data.
    name = _name_in(body) if isinstance(body, dict) else None
    if name is not None:
        _raise_auth_error(name, what=what, status=status)
    return body
