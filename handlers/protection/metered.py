"""Every partner request counted and timed, at the transport: ``eduhook_partner_request*``.

The ``operation`` label names the endpoint, never a particular resource: ``GET /orders/{id}``.
Path segments that look like values (digits, dots, ``@``, ``:``, ``+``, long ones) become ``{id}``,
so a learner's e-mail or an order id never reaches a label; short words with a digit or two
(``v1``, ``b2b``) stay. A client may name the operation itself with the request extension
``eduhook_operation``.
"""

from __future__ import annotations

import re
import time

import httpx

from eduhook import metrics

OPERATION_EXTENSION = "eduhook_operation"
_WORD = re.compile(r"[A-Za-z_-]{1,40}|[A-Za-z]{1,4}\d{1,2}[A-Za-z]{0,4}")


def operation_of(request: httpx.Request) -> str:
    """``METHOD /path/with/{id}``: low-cardinality by construction (see the module docstring)."""
    named = request.extensions.get(OPERATION_EXTENSION)
    if isinstance(named, str):
        return named
    segments = [s if _WORD.fullmatch(s) else "{id}" for s in request.url.path.split("/") if s]
    return f"{request.method} /{'/'.join(segments)}"


class MeteredTransport(httpx.BaseTransport):
    """``inner``, with each request's status and duration recorded under ``partner``."""

    def __init__(self, partner: str, inner: httpx.BaseTransport) -> None:
        self.partner = partner
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        m = metrics.metrics()
        operation = operation_of(request)
        started = time.perf_counter()
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError:
            m.partner_requests.labels(self.partner, operation, "error").inc()
            raise
        finally:
            m.partner_seconds.labels(self.partner, operation).observe(time.perf_counter() - started)
        m.partner_requests.labels(self.partner, operation, str(response.status_code)).inc()
        return response

    def close(self) -> None:
        self.inner.close()
