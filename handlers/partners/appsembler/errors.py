"""Appsembler's statuses and error bodies mapped onto eduhook's error tree: the one place that does it.

401 {"detail": "Authentication credentials were not provided." | "Invalid Token."}
                                        → ConfigurationError (code not_authenticated | invalid_token)
403                                     → ConfigurationError (the API user is not staff)
404                                     → PermanentError (code not_found), what the caller says it means
409 {"user_message": "User already exists"}          → AlreadyDoneError (code already_exists)
400 {"reason": "Already enrolled."}                  → AlreadyDoneError (code already_enrolled)
400 {"reason": ...} / {"user_message": ...}          → PermanentError quoting Appsembler's fixed text
400 {"<field>": ["..."]} (DRF)                       → PermanentError naming the fields; messages are
                                                       quoted only for fields that hold course keys
429, 5xx                                → TransientError with Retry-After (shared ``_http`` rules)
token endpoint 400/401 {"error": ...}   → ConfigurationError naming the client credential settings
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import BaseModel, ValidationError

from handlers.errors import AlreadyDoneError, ConfigurationError, PartnerDataError, PermanentError
from handlers.partners._http import Clock, fail_shape, json_body, raise_for_status

PARTNER = "appsembler"
CLIENT_CREDENTIAL_ENVS = "APPSEMBLER_CLIENT_ID/APPSEMBLER_CLIENT_SECRET"

_AUTH_DETAILS = {
    "Authentication credentials were not provided.": "not_authenticated",
    "Invalid Token.": "invalid_token",
}
# Field errors quoted in messages: they carry course keys or fixed choices, never personal values.
_QUOTABLE_FIELDS = frozenset({"courses", "course_id", "action", "total_registration_codes"})
_REASON_CODES = {
    "already enrolled": "already_enrolled",
    "enrollment code error": "code_error",
    "enrollment code not found": "code_not_found",
    "enrollment closed": "enrollment_closed",
    "course full": "course_full",
    "user not found": "user_not_found",
}
_MAX_QUOTE = 200

ModelT = TypeVar("ModelT", bound=BaseModel)


def _lenient_body(response: httpx.Response) -> dict[str, Any]:
    """Error bodies are read for detail only; an HTML error page must not hide the status."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _quote(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_QUOTE else text[:_MAX_QUOTE] + "…"


def _field_text(messages: Any) -> str:
    return _quote(" ".join(str(m) for m in messages) if isinstance(messages, list) else messages)


def _reason_code(reason: str) -> str:
    normal = reason.strip().rstrip(".").lower()
    if normal in _REASON_CODES:
        return _REASON_CODES[normal]
    # "The enrollment code (XYZ) was not found" from the status endpoint.
    return "code_not_found" if re.search(r"\bwas not found\b", normal) else "rejected"


def _bad_request(body: dict[str, Any], what: str) -> PermanentError | AlreadyDoneError:
    status = 400
    reason = body.get("reason")
    if isinstance(reason, str) and reason:
        code = _reason_code(reason)
        cls = AlreadyDoneError if code == "already_enrolled" else PermanentError
        return cls(f"{what}: {_quote(reason)}", partner=PARTNER, status_code=status, partner_code=code)
    message = body.get("user_message")
    if isinstance(message, str) and message:
        return PermanentError(
            f"{what}: {_quote(message)}",
            partner=PARTNER,
            status_code=status,
            partner_code="invalid_parameters",
        )
    detail = body.get("detail")
    if isinstance(detail, str) and detail:
        # DRF's parse and media-type errors; they describe our request, not a person.
        return PermanentError(
            f"{what}: {_quote(detail)}", partner=PARTNER, status_code=status, partner_code="bad_request"
        )
    fields = sorted(key for key, value in body.items() if isinstance(value, list | str))
    if not fields:
        return PermanentError(f"{what}: HTTP 400", partner=PARTNER, status_code=status)
    quoted = [f"{field}: {_field_text(body[field])}" for field in fields if field in _QUOTABLE_FIELDS]
    said = f"; {'; '.join(quoted)}" if quoted else ""
    code = (
        "invalid_course_key" if "Course key not valid" in str(body.get("courses", "")) else "invalid_fields"
    )
    return PermanentError(
        f"{what}: rejected fields {', '.join(fields)}{said}",
        partner=PARTNER,
        status_code=status,
        partner_code=code,
    )


def raise_for_api(
    response: httpx.Response, *, what: str, credentials_env: str, now: Clock, not_found: str = "not found"
) -> None:
    """Raise the error for a non-2xx answer of an ``/appsembler_api/v0`` endpoint."""
    status = response.status_code
    if status < 400:
        return
    body = _lenient_body(response)
    if status == 401:
        detail = body.get("detail")
        code = _AUTH_DETAILS.get(detail, "unauthorized") if isinstance(detail, str) else "unauthorized"
        said = _quote(detail or "no detail")
        raise ConfigurationError(
            f"{what}: Appsembler refused the credentials ({said}); check {credentials_env}",
            partner=PARTNER,
            status_code=status,
            partner_code=code,
        )
    if status == 403:
        raise ConfigurationError(
            f"{what}: the API user may not do this (needs staff on the site); check {credentials_env}",
            partner=PARTNER,
            status_code=status,
            partner_code="forbidden",
        )
    if status == 404:
        raise PermanentError(
            f"{what}: {not_found}", partner=PARTNER, status_code=status, partner_code="not_found"
        )
    if status == 409:
        message = body.get("user_message") or "already exists"
        raise AlreadyDoneError(
            f"{what}: {_quote(message)}", partner=PARTNER, status_code=status, partner_code="already_exists"
        )
    if status == 400:
        raise _bad_request(body, what)
    raise_for_status(response, partner=PARTNER, what=what, now=now)


def raise_for_token(response: httpx.Response, *, now: Clock) -> None:
    """Raise the error for a non-2xx answer of ``POST /oauth2/access_token``."""
    status = response.status_code
    if status < 400:
        return
    if status in (400, 401):
        error = _lenient_body(response).get("error")
        code = error if isinstance(error, str) and error else "token_refused"
        raise ConfigurationError(
            f"access token request refused ({_quote(code)}); check {CLIENT_CREDENTIAL_ENVS}",
            partner=PARTNER,
            status_code=status,
            partner_code=code,
        )
    raise_for_status(response, partner=PARTNER, what="access token", now=now)


def read_json(response: httpx.Response, *, what: str) -> Any:
    """A 2xx body as JSON; malformed JSON is a ``PartnerDataError``."""
    return json_body(response, partner=PARTNER, what=what)


def parse_model(model: type[ModelT], data: Any, *, what: str) -> ModelT:
    """Validate ``data`` into ``model``; the error names field paths only, never the values."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        locations = sorted({".".join(str(p) for p in err["loc"]) or "<root>" for err in exc.errors()})
        fail_shape(PARTNER, what, f"{model.__name__}: {', '.join(locations[:8])}")


def shape_error(what: str, problem: str) -> PartnerDataError:
    """A well-formed answer that does not say what it must (a missing id, a missing course)."""
    return PartnerDataError(f"{what}: unexpected response shape ({problem})", partner=PARTNER)
