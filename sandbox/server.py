"""Run an ASGI app on a loopback port in a background thread (tests, benchmarks, ``eduhook sandbox``)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp


@dataclass
class RunningServer:
    url: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def bind_loopback(port: int = 0, host: str = "127.0.0.1") -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


def serve_in_thread(
    app: ASGIApp, *, port: int = 0, host: str = "127.0.0.1", startup_timeout: float = 10.0
) -> RunningServer:
    """Start ``app`` under uvicorn on ``host:port`` (0 picks a free port); returns once it listens."""
    sock = bind_loopback(port, host)
    actual_port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{actual_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"server on {host}:{actual_port} did not start")
        time.sleep(0.005)
    return RunningServer(f"http://{host}:{actual_port}", actual_port, server, thread)
