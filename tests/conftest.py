"""Fixtures shared by every test: a real Redis, real databases and loopback servers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis
from starlette.types import ASGIApp

from eduhook.embedded_redis import EmbeddedRedis, start_embedded_redis
from eduhook.settings import Settings
from sandbox.server import RunningServer, serve_in_thread

POSTGRES_URL = os.environ.get(
    "EDUHOOK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), 0.5):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``EDUHOOK_TEST_REDIS_URL`` if set, else an embedded Redis of the test session's own."""
    configured = os.environ.get("EDUHOOK_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    embedded: EmbeddedRedis = start_embedded_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield embedded.url
    finally:
        embedded.stop()


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """A Redis URL whose database is flushed before the test."""
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    yield redis_server


def postgres_required(env: Mapping[str, str]) -> bool:
    """``EDUHOOK_TEST_REQUIRE_POSTGRES``: 1/true/yes fail the PostgreSQL tests without a server; 0 skips."""
    return env.get("EDUHOOK_TEST_REQUIRE_POSTGRES", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if not _reachable(POSTGRES_URL, 5432):
        if postgres_required(os.environ):
            pytest.fail(f"PostgreSQL required but not reachable at {POSTGRES_URL}")
        pytest.skip("PostgreSQL is not reachable; set EDUHOOK_TEST_POSTGRES_URL")
    return POSTGRES_URL


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"eduhook_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = postgres_server.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each ledger test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'eduhook.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def serve() -> Iterator[Callable[[ASGIApp], RunningServer]]:
    """``serve(app)`` runs an ASGI app on a loopback port for the test and returns its server."""
    servers: list[RunningServer] = []

    def start(app: ASGIApp) -> RunningServer:
        server = serve_in_thread(app)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


# eduhook processes -------------------------------------------------------------------------------

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_TOKEN = "test-token-0123456789"


def wait_until(predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition") -> object:
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def eduhook_settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    """Settings for one test: its own data dir and ledger, the test Redis, the test handlers."""
    from eduhook.ledger import create_engine_for, upgrade

    settings = Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        redis_url=redis_url,
        webhook_tokens=[TEST_TOKEN, "rotated-token-abcdef"],
        educators=["acme", "globex"],
        handler_modules=["tests.support.handlers"],
    )
    engine = create_engine_for(database_url)
    upgrade(engine)
    engine.dispose()
    return settings


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that gives an ``eduhook`` subprocess the same settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDUHOOK_")}
    env.update(
        EDUHOOK_DATA_DIR=str(settings.data_dir),
        EDUHOOK_DATABASE_URL=settings.effective_database_url,
        EDUHOOK_REDIS_URL=settings.redis_url or "",
        EDUHOOK_WEBHOOK_TOKENS=",".join(t.get_secret_value() for t in settings.webhook_tokens),
        EDUHOOK_EDUCATORS=",".join(settings.educators),
        EDUHOOK_HANDLER_MODULES=",".join(settings.handler_modules),
        PYTHONPATH=str(REPO_ROOT),
    )
    if settings.config:
        env["EDUHOOK_CONFIG"] = str(settings.config)
    env.update(extra)
    return env


@pytest.fixture
def receiver_url(eduhook_settings: Settings, serve: Callable[[ASGIApp], RunningServer]) -> str:
    """A real uvicorn serving the receiver on a loopback port."""
    from receiver.app import create_app

    assert eduhook_settings.redis_url
    return serve(create_app(eduhook_settings, redis_url=eduhook_settings.redis_url)).url


@contextlib.contextmanager
def eduhook_processes(
    settings: Settings, name: str, command: list[str]
) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``start(*args, **env)`` runs ``eduhook <command> *args`` as a real process, logging to the
    data dir; every process started is stopped by PID on exit."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        log = open(settings.data_dir / f"{name}-{len(started)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "eduhook.cli", *command, *args],
            env=settings_env(settings, **extra_env),
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.fixture
def start_worker(eduhook_settings: Settings) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``start_worker(*args, **env)`` runs ``eduhook worker`` as a real process."""
    with eduhook_processes(eduhook_settings, "worker", ["worker", "--pool", "threads", "-c", "2"]) as start:
        yield start


# Retries, the scheduler and the breakers' cool-downs fast enough for a test: due within a
# fraction of a second.
FAST_RETRIES = {
    "EDUHOOK_SCHEDULER_INTERVAL": "0.2",
    "EDUHOOK_RETRY_FIRST_DELAY": "0.2",
    "EDUHOOK_RETRY_MAX_DELAY": "0.5",
    "EDUHOOK_RETRY_JITTER": "none",
    "EDUHOOK_BREAKER_COOLDOWN": "0.2",
    "EDUHOOK_BREAKER_MAX_COOLDOWN": "0.5",
}


@pytest.fixture
def start_beat(eduhook_settings: Settings) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """``start_beat(**env)`` runs ``eduhook beat``, the scheduler, as a real process."""
    with eduhook_processes(eduhook_settings, "beat", ["beat"]) as start:
        yield start
