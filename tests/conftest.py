"""Fixtures shared by every test: a real Redis, real databases and loopback servers."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis
from starlette.types import ASGIApp

from eduhook.embedded_redis import EmbeddedRedis, start_embedded_redis
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


@pytest.fixture(scope="session")
def postgres_server() -> str:
    if not _reachable(POSTGRES_URL, 5432):
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
