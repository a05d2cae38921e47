"""The one place where transport failures and HTTP statuses become eduhook's error tree."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from typing import Any, NoReturn, Self

import httpx
import orjson

from handlers.errors import InDoubtError, PartnerDataError, PermanentError, TransientError

Clock = Callable[[], float]


def make_client(
    base_url: str,
    *,
    connect_timeout: float = 5.0,
    read_timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Client:
    """A sync client with explicit timeouts; tests pass ``httpx.MockTransport`` as transport."""
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
    return httpx.Client(
        base_url=base_url.rstrip("/"),
        timeout=timeout,
        transport=transport,
        headers={"User-Agent": "eduhook/0.1", **(headers or {})},
    )


class PartnerClient:
    """What every partner client shares: it owns its ``httpx.Client`` and closes it, also as a
    context manager."""

    _http: httpx.Client

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def parse_retry_after(value: str | None, *, now: Clock = time.time) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:
        return None
    return max(0.0, moment.timestamp() - now())


# Failures that happen before any byte of the request left: the partner cannot have acted on it.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def send(client: httpx.Client, request: httpx.Request, *, partner: str, what: str) -> httpx.Response:
    """Send ``request``; transport failures become ``TransientError``, and ``InDoubtError`` once the
    request may have reached the partner (a read timeout, a dropped answer). Statuses are not judged
    here."""
    try:
        return client.send(request)
    except httpx.TransportError as exc:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "connection failed"
        error = TransientError if isinstance(exc, _NOT_SENT) else InDoubtError
        raise error(f"{what}: {kind} ({type(exc).__name__})", partner=partner) from exc


def raise_for_status(
    response: httpx.Response,
    *,
    partner: str,
    what: str,
    detail: str | None = None,
    partner_code: str | None = None,
    now: Clock = time.time,
) -> None:
    """Map a non-2xx status: 429 and 5xx are transient, every other 4xx permanent."""
    status = response.status_code
    if status < 400:
        return
    suffix = f": {detail}" if detail else ""
    if status == 429 or status >= 500:
        raise TransientError(
            f"{what}: HTTP {status}{suffix}",
            retry_after=parse_retry_after(response.headers.get("Retry-After"), now=now),
            partner=partner,
            status_code=status,
            partner_code=partner_code,
        )
    raise PermanentError(
        f"{what}: HTTP {status}{suffix}",
        partner=partner,
        status_code=status,
        partner_code=partner_code,
    )


def json_body(response: httpx.Response, *, partner: str, what: str) -> Any:
    """Decode a JSON body or raise ``PartnerDataError`` naming what was expected."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError as exc:
        ctype = response.headers.get("content-type", "?")
        raise PartnerDataError(
            f"{what}: response is not JSON (HTTP {response.status_code}, {ctype},"
            f" {len(response.content)} bytes)",
            partner=partner,
            status_code=response.status_code,
        ) from exc


def fail_shape(partner: str, what: str, problem: str) -> NoReturn:
    """Raise the error for a well-formed JSON answer of the wrong shape."""
    raise PartnerDataError(f"{what}: unexpected response shape ({problem})", partner=partner)
