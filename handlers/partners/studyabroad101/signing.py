"""StudyAbroad101 request signing: the X-A101-* headers as pure functions of their inputs."""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import time
from collections.abc import Callable

Clock = Callable[[], float]

DATE_HEADER = "X-A101-Date"
USER_HEADER = "X-A101-User"
AUTH_HEADER = "X-A101-Auth"


def format_date(timestamp: float) -> str:
    """RFC 2822 in GMT, as the partner's examples show: ``Wed, 23 Sep 2015 17:43:56 GMT``."""
    return email.utils.formatdate(timestamp, usegmt=True)


def signature_string(method: str, path_and_query: str, user: str, date: str) -> str:
    """``VERB + path_and_query (no leading "/") + "/" + user + date``, exactly as the partner builds it.

    ``path_and_query`` must be the bytes that go on the wire: the partner signs the raw query string,
    so any re-encoding or reordering between signing and sending breaks the signature.
    """
    return f"{method.upper()}{path_and_query.removeprefix('/')}/{user}{date}"


def sign(api_key: str, message: str) -> str:
    """``base64(HMAC-SHA1(api_key, message))``."""
    digest = hmac.new(api_key.encode("utf-8"), message.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def auth_headers(
    method: str, path_and_query: str, *, user: str, api_key: str, now: Clock = time.time
) -> dict[str, str]:
    """The three headers for one request, dated by ``now`` (injected so tests are deterministic)."""
    date = format_date(now())
    message = signature_string(method, path_and_query, user, date)
    return {DATE_HEADER: date, USER_HEADER: user, AUTH_HEADER: sign(api_key, message)}
