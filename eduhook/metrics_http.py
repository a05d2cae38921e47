"""``/metrics`` for Prometheus: the bearer-token check, and the small server each worker runs."""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from pydantic import SecretStr

if TYPE_CHECKING:
    from prometheus_client.registry import Collector, CollectorRegistry

log = logging.getLogger("eduhook.metrics")

UNAUTHORIZED_BODY = b'{"error": "missing or invalid metrics token"}'
CHALLENGE = ("WWW-Authenticate", 'Bearer realm="eduhook metrics"')


def token_accepted(authorization: str | None, token: SecretStr | None) -> bool:
    """Without a token configured, every scrape is let in; with one, ``Authorization: Bearer <it>``
    (compared in constant time) is required."""
    if token is None:
        return True
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.get_secret_value().encode())


def multiprocess_registry(path: str, extra: Sequence[Collector] = ()) -> CollectorRegistry:
    """A registry for one scrape: every process's files under ``path``, and ``extra`` collectors."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    for collector in extra:
        registry.register(collector)
    return registry


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def metrics_app(registry: Callable[[], CollectorRegistry], token: SecretStr | None) -> WSGIApp:
    """A WSGI app answering ``GET /metrics`` from a registry built for each scrape."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "/") not in ("/", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found; try /metrics\n"]
        if not token_accepted(environ.get("HTTP_AUTHORIZATION"), token):
            start_response("401 Unauthorized", [("Content-Type", "application/json"), CHALLENGE])
            return [UNAUTHORIZED_BODY]
        body = generate_latest(registry())
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]

    return app


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # one line per scrape is noise
        pass


class MetricsServer:
    """``app`` on ``host:port`` in a daemon thread, until ``stop()``."""

    def __init__(self, app: WSGIApp, host: str, port: int) -> None:
        self._server = make_server(host, port, app, server_class=_Server, handler_class=_QuietHandler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
