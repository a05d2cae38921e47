"""``eduhook serve`` as a real process with chosen client deadlines, and what its log and ledger say."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from eduhook.embedded_redis import free_loopback_port
from eduhook.ledger import EventLedger, create_engine_for
from eduhook.settings import Settings
from tests.conftest import eduhook_processes, wait_until


@dataclass
class ReceiverProcess:
    port: int
    log: Path
    settings: Settings

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def log_lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines()

    def recorded(self) -> int:
        ledger = EventLedger(create_engine_for(self.settings.effective_database_url))
        try:
            return sum(ledger.count_by_status().values())
        finally:
            ledger.engine.dispose()

    def answered(self, status: int) -> float:
        """``eduhook_webhooks_total{status=...}`` from /metrics."""
        text = httpx.get(f"http://127.0.0.1:{self.port}/metrics", timeout=5).text
        found = re.search(rf'^eduhook_webhooks_total{{status="{status}"}} (\S+)$', text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    def quiesce(self) -> list[str]:
        """Every log line so far, once a request sent now has been logged (the log is in order)."""
        marker = f"/healthz?n={time.monotonic_ns()}"
        assert httpx.get(f"http://127.0.0.1:{self.port}{marker}", timeout=5).status_code == 200
        wait_until(lambda: any(marker in line for line in self.log_lines()), 10, what="the access log line")
        lines = self.log_lines()
        return lines[: next(i for i, line in enumerate(lines) if marker in line)]


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


@contextlib.contextmanager
def receiver_process(
    settings: Settings, *, keep_alive: float, header: float, body: float
) -> Iterator[ReceiverProcess]:
    """``eduhook serve`` (access log on) with these deadlines in seconds, stopped by PID on exit."""
    port = free_loopback_port()
    deadlines = {
        "EDUHOOK_KEEP_ALIVE_TIMEOUT": str(keep_alive),
        "EDUHOOK_HEADER_TIMEOUT": str(header),
        "EDUHOOK_BODY_TIMEOUT": str(body),
    }
    with eduhook_processes(settings, "serve", ["serve", "--port", str(port)]) as start:
        start(**deadlines)
        wait_until(lambda: _healthy(port), 30, what="eduhook serve")
        yield ReceiverProcess(port, settings.data_dir / "serve-0.log", settings)
