"""What the benchmark runs against: Redis, a fresh ledger, the bare app and eduhook's processes."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import redis
import sqlalchemy as sa

from bench.handlers import STARTED_KEY
from bench.payloads import EDUCATOR, TOKEN
from bench.procs import VENV_BIN, BenchError, Child, Children, base_env, free_port, wait_http_ok
from workers.messages import DEFAULT_QUEUE

# Keys the receiver and a Celery worker on the default queue write; cleared between phases.
_OUR_KEYS = (DEFAULT_QUEUE, STARTED_KEY, "unacked", "unacked_index", "unacked_mutex")


@dataclass
class RedisTarget:
    url: str
    pid: int | None  # set when the benchmark started this Redis, so its CPU can be read
    embedded: bool

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def clear(self) -> None:
        """Empty the queue and the handler's records (only our keys on a shared Redis)."""
        client = self.client()
        try:
            if self.embedded:
                client.flushdb()
            else:
                client.delete(*_OUR_KEYS)
        finally:
            client.close()

    def version(self) -> str:
        client = self.client()
        try:
            return str(client.info("server").get("redis_version", "unknown"))
        finally:
            client.close()


@contextlib.contextmanager
def redis_target(work: Path, url: str | None) -> Iterator[RedisTarget]:
    """The given Redis URL, or an embedded Redis in ``work`` (stopped on exit)."""
    if url:
        target = RedisTarget(url, None, embedded=False)
        target.version()  # fail early if it does not answer
        yield target
        return
    from eduhook.embedded_redis import start_embedded_redis

    embedded = start_embedded_redis(work / "redis-data")
    try:
        assert embedded.process is not None, "a fresh directory has no embedded Redis to attach to"
        yield RedisTarget(embedded.url, embedded.process.pid, embedded=True)
    finally:
        embedded.stop()


def postgres_reachable(admin_url: str) -> str | None:
    """None when PostgreSQL answers at ``admin_url``; otherwise why not."""
    parsed = urlparse(admin_url.replace("+psycopg", ""))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5432), 1.0):
            pass
    except OSError as exc:
        return f"PostgreSQL not reachable at {parsed.hostname}:{parsed.port or 5432} ({exc.strerror})"
    return None


@contextlib.contextmanager
def postgres_database(admin_url: str) -> Iterator[str]:
    """A fresh database for one run, dropped afterwards (``WITH (FORCE)``: clients may linger)."""
    name = f"eduhook_bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def postgres_version(admin_url: str) -> str:
    engine = sa.create_engine(admin_url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            return str(conn.execute(sa.text("SHOW server_version")).scalar())
    finally:
        engine.dispose()


@dataclass
class Server:
    """A running HTTP server under test."""

    name: str
    child: Child
    port: int
    database_url: str | None = None  # the ledger, for eduhook's receiver

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ledger_rows(self) -> int:
        if self.database_url is None:
            return 0
        engine = sa.create_engine(self.database_url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(sa.text("SELECT count(*) FROM events")).scalar() or 0)
        finally:
            engine.dispose()


def start_bare(children: Children, work: Path) -> Server:
    port = free_port()
    command = [sys.executable, "-m", "bench.bare_app", "--port", str(port)]
    child = children.spawn("bare Starlette app", command, base_env(), work / "bare.log")
    wait_http_ok(child, f"http://127.0.0.1:{port}/healthz")
    return Server("bare Starlette", child, port)


def eduhook_env(work: Path, database_url: str, redis_url: str, port: int) -> dict[str, str]:
    env = base_env()
    env.update(
        EDUHOOK_DATABASE_URL=database_url,
        EDUHOOK_REDIS_URL=redis_url,
        EDUHOOK_WEBHOOK_TOKENS=TOKEN,
        EDUHOOK_EDUCATORS=EDUCATOR,
        EDUHOOK_HANDLER_MODULES="bench.handlers",
        EDUHOOK_DATA_DIR=str(work / "data"),
        EDUHOOK_PORT=str(port),
    )
    return env


def start_receiver(children: Children, work: Path, name: str, database_url: str, redis_url: str) -> Server:
    """``eduhook db upgrade`` then ``eduhook serve --no-access-log``, ready when /readyz says so."""
    port = free_port()
    env = eduhook_env(work, database_url, redis_url, port)
    upgrade = subprocess.run(
        [str(VENV_BIN / "eduhook"), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    if upgrade.returncode != 0:
        raise BenchError(f"eduhook db upgrade failed: {upgrade.stderr or upgrade.stdout}")
    command = [str(VENV_BIN / "eduhook"), "serve", "--no-access-log"]
    child = children.spawn(f"receiver ({name})", command, env, work / f"receiver-{name}.log")
    wait_http_ok(child, f"http://127.0.0.1:{port}/readyz")
    return Server(f"eduhook receiver, {name}", child, port, database_url)


def start_worker(children: Children, work: Path, server: Server, redis_url: str) -> Child:
    assert server.database_url is not None
    env = eduhook_env(work, server.database_url, redis_url, server.port)
    command = [str(VENV_BIN / "eduhook"), "worker", "--pool", "threads"]
    return children.spawn(f"worker for {server.name}", command, env, work / f"worker-{server.port}.log")
