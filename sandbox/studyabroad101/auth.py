"""StudyAbroad101 sandbox authentication: the partner's header, clock and signature checks.

Written independently of the client's ``signing`` module so that a mistake there is caught here
rather than mirrored.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from starlette.types import Scope

ALLOWED_SKEW_SECONDS = 60.0


@dataclass(frozen=True)
class AuthFailure:
    """A rejected request: the partner's error name and a message for humans."""

    error: str
    message: str


def wire_path_and_query(scope: Scope) -> str:
    """The request's path and query exactly as received, without the leading ``/``."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    query: bytes = scope.get("query_string", b"")
    target = raw.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
    return target.removeprefix("/")


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1")).strip()
    return ""


def check_request(scope: Scope, users: dict[str, str], now: float) -> AuthFailure | None:
    """``None`` when the request is signed correctly, dated within 60 s of ``now`` and from a known user."""
    auth = _header(scope, b"x-a101-auth")
    user = _header(scope, b"x-a101-user")
    date = _header(scope, b"x-a101-date")
    if not auth:
        return AuthFailure("AuthHeaderMissing", "the X-A101-Auth header was not detected")
    if not user:
        return AuthFailure("ClientHeaderMissing", "the X-A101-User header was not detected")
    if not date:
        return AuthFailure("DateHeaderMissing", "the X-A101-Date header was not detected")
    key = users.get(user)
    if key is None:
        return AuthFailure("InvalidClient", "the supplied API user is not registered")
    try:
        sent_at = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return AuthFailure("DateHeaderMissing", "the X-A101-Date header is not an RFC 2822 date")
    if sent_at.utcoffset() != timedelta(0):
        return AuthFailure("DateHeaderMissing", "the X-A101-Date header must be in GMT")
    if abs(sent_at.timestamp() - now) > ALLOWED_SKEW_SECONDS:
        return AuthFailure(
            "AuthTimeDifference", "the request date differs from the server time by more than 60 seconds"
        )
    method = str(scope["method"]).upper()
    message = f"{method}{wire_path_and_query(scope)}/{user}{date}".encode()
    expected = base64.b64encode(hmac.new(key.encode(), message, hashlib.sha1).digest())
    if not hmac.compare_digest(expected, auth.encode("latin-1")):
        return AuthFailure("InvalidSignature", "the supplied signature in X-A101-Auth header is wrong")
    return None
