"""uvicorn's HTTP protocol with the two deadlines it lacks: an idle connection's and a request's headers'.

uvicorn (0.54 at this writing) has ``timeout_keep_alive`` only. It is armed after a response, cancelled by
any byte received, and never armed on a fresh connection, so a client that opens a connection and
sends a byte now and then without finishing its headers holds it for ever (uvicorn issue #157
proposed a ``--timeout-request-start`` that was never added). An ASGI middleware cannot help: the
app is called only once the headers are complete. This subclass of uvicorn's httptools protocol
therefore keeps one timer per connection while the connection waits for a request's headers:

- ready for a request (just opened, or its previous answer sent): closed ``keep_alive`` seconds
  later unless a request begins. Bytes that begin none (blank lines between requests) do not
  count, unlike for uvicorn's own timer, which keeps running with the same value.
- a request has begun (its first byte): its headers must be complete ``header`` seconds later,
  else the connection is closed and one INFO line says so.

The body is the app's to time (receiver/body.py), so that it can answer 408.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("eduhook.receiver")


@dataclass(frozen=True)
class ConnectionTimeouts:
    """Seconds: an idle connection's life, and a request's time from its first byte to its headers' end."""

    keep_alive: float
    header: float


class DeadlineHttpToolsProtocol(HttpToolsProtocol):
    """One connection; ``timeouts`` is set on the subclass that ``http_protocol`` makes."""

    timeouts: ClassVar[ConnectionTimeouts]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # uvicorn's Config holds whole seconds; its timer takes any float.
        self.timeout_keep_alive = self.timeouts.keep_alive  # type: ignore[assignment]
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._set_deadline(self.timeouts.keep_alive, self._close_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._clear_deadline()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._set_deadline(self.timeouts.header, self._close_slow_headers)

    def on_headers_complete(self) -> None:
        self._clear_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request waiting here already has its headers, and starts now; one that has
        # begun but not finished its headers keeps its header deadline.
        waiting = bool(self.pipeline) or self._deadline is not None
        super().on_response_complete()
        if not waiting and not self.transport.is_closing():
            self._set_deadline(self.timeouts.keep_alive, self._close_idle)

    def _set_deadline(self, seconds: float, expire: Callable[[], None]) -> None:
        self._clear_deadline()
        self._deadline = self.loop.call_later(seconds, expire)

    def _clear_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _close_idle(self) -> None:
        self._deadline = None
        self.transport.close()

    def _close_slow_headers(self) -> None:
        self._deadline = None
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "unknown"
        log.info(
            "client %s did not finish its request headers within %g s; connection closed",
            client,
            self.timeouts.header,
        )
        self.transport.close()


def http_protocol(*, keep_alive: float, header: float) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.run(http=...)``, with these deadlines in seconds."""
    chosen = ConnectionTimeouts(keep_alive=keep_alive, header=header)

    class ReceiverHttpProtocol(DeadlineHttpToolsProtocol):
        timeouts = chosen

    return ReceiverHttpProtocol
