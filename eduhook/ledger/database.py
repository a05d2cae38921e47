"""Engines for SQLite and PostgreSQL, and the schema upgrade run by ``eduhook db upgrade``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from eduhook.ledger import schema


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine tuned per backend: SQLite in WAL mode with a busy timeout, PostgreSQL pooled."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    connect_args = kwargs.pop("connect_args", {"connect_timeout": 5})
    return sa.create_engine(url, connect_args=connect_args, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; synchronous=FULL keeps every commit on disk.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _v1_initial(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.events, schema.attempts, schema.effects])


_V2_EVENT_COLUMNS = {
    "last_partner": "VARCHAR(32)",
    "last_http_status": "INTEGER",
    "last_partner_code": "VARCHAR(32)",
    "retry_base": "INTEGER NOT NULL DEFAULT 0",
}


def _v2_failure_handling(conn: Connection) -> None:
    """Dead letters and replays: the last failure's partner on the event, the retry budget, the audit.

    A ledger created at version 2 or later already has these columns (``_v1_initial`` builds
    from the current tables), so each column is added only where it is missing.
    """
    present = {column["name"] for column in sa.inspect(conn).get_columns("events")}
    for name, ddl in _V2_EVENT_COLUMNS.items():
        if name not in present:
            conn.execute(sa.text(f"ALTER TABLE events ADD COLUMN {name} {ddl}"))
    schema.metadata.create_all(conn, tables=[schema.replays])
    for index in schema.events.indexes:
        if index.name == "ix_events_status_received":
            index.create(conn, checkfirst=True)


# Each step runs once, in order, in its own transaction; append new steps, never edit old ones.
MIGRATIONS: Sequence[Callable[[Connection], None]] = (_v1_initial, _v2_failure_handling)


def current_version(engine: Engine) -> int:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("schema_version"):
            return 0
        return int(conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar() or 0)


def upgrade(engine: Engine) -> tuple[int, int]:
    """Bring the schema to the newest version; returns (version before, version after)."""
    schema.metadata.create_all(engine, tables=[schema.schema_version])
    before = current_version(engine)
    for number, step in enumerate(MIGRATIONS, start=1):
        if number <= before:
            continue
        with engine.begin() as conn:
            step(conn)
            conn.execute(
                schema.schema_version.insert().values(version=number, applied_at=dt.datetime.now(dt.UTC))
            )
    return before, len(MIGRATIONS)
