"""Engines for SQLite and PostgreSQL, and the schema upgrade run by ``eduhook db upgrade``."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from eduhook.ledger import schema
from eduhook.ledger.dedup import dedup_key_of_payload


def create_engine_for(url: str, *, lock_wait_seconds: float | None = None, **kwargs: Any) -> Engine:
    """An engine tuned per backend: SQLite in WAL mode with a busy timeout, PostgreSQL pooled.

    ``lock_wait_seconds`` bounds how long a statement waits for another writer's lock (SQLite's
    busy timeout, 30 s unless given; PostgreSQL's ``lock_timeout``, none unless given). The
    receiver sets it to its answer deadline.
    A SQLite ledger file and its folder are made private to their owner: payloads hold personal data.
    """
    if url.startswith("sqlite"):
        busy = 30.0 if lock_wait_seconds is None else lock_wait_seconds
        busy_ms = int(busy * 1000)
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            private_file(Path(path))
        engine = sa.create_engine(url, connect_args={"timeout": busy, "check_same_thread": False}, **kwargs)
        sa.event.listen(engine, "connect", lambda conn, _record: _sqlite_pragmas(conn, busy_ms))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    connect_args = kwargs.pop("connect_args", {"connect_timeout": 5})
    if lock_wait_seconds is not None:
        connect_args.setdefault("options", f"-c lock_timeout={int(lock_wait_seconds * 1000)}")
    return sa.create_engine(url, connect_args=connect_args, **kwargs)


def private_folder(folder: Path) -> None:
    """Create ``folder`` as ``0700`` when it is missing; an existing one is left as it is."""
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
        folder.chmod(0o700)  # mkdir's mode passes through the umask


def private_file(path: Path) -> None:
    """Create ``path`` readable by its owner only (``0600``), in a new folder that is ``0700``.

    A ledger file left looser by an older eduhook is tightened; an existing folder is left as the
    operator made it. SQLite gives its ``-wal`` and ``-shm`` files the database file's mode.
    """
    private_folder(path.parent)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    elif path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _sqlite_pragmas(dbapi_connection: Any, busy_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the writer; synchronous=FULL keeps every commit on disk.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
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


_V3_CHUNK = 1000


def _v3_tenant_in_dedup_key(conn: Connection) -> None:
    """The dedup key now includes the tenant: every stored webhook's key is recomputed from its
    payload, so a redelivery of an event recorded before the upgrade is still a duplicate."""
    events = schema.events
    last_id = ""
    while True:
        rows = conn.execute(
            sa.select(events.c.id, events.c.payload, events.c.dedup_key)
            .where(events.c.source == "eduframe", events.c.id > last_id)
            .order_by(events.c.id)
            .limit(_V3_CHUNK)
        ).all()
        if not rows:
            return
        last_id = rows[-1].id
        changed = [
            {"row_id": row.id, "new_key": key}
            for row in rows
            if (key := dedup_key_of_payload(row.payload)) is not None and key != row.dedup_key
        ]
        if changed:
            conn.execute(
                events.update()
                .where(events.c.id == sa.bindparam("row_id"))
                .values(dedup_key=sa.bindparam("new_key")),
                changed,
            )


_V4_EFFECT_COLUMNS = {
    "generation": "INTEGER NOT NULL DEFAULT 1",
    "source_kind": "VARCHAR(16)",
    "source_enrollment_id": "BIGINT",
    "source_order_id": "BIGINT",
    "source_planned_course_id": "BIGINT",
    "undoes": "VARCHAR(255)",
    "cancellation": "JSON",
}
_V4_KEY = ["key", "generation"]


def _v4_effect_generations(conn: Connection) -> None:
    """Effects gain a generation (part of their primary key), their provenance and their undo link.

    Every existing effect becomes generation 1, with the provenance its event tells, and an effect
    a done undo undid becomes ``cancelled``, so students who cancelled before the upgrade can be
    enrolled again. A ledger built by ``_v1_initial`` from the current tables already has the new
    shape and nothing to fill in, so only what is missing is done.
    """
    inspector = sa.inspect(conn)
    if inspector.get_pk_constraint("effects")["constrained_columns"] == _V4_KEY:
        return
    if conn.dialect.name == "sqlite":
        _rebuild_sqlite_effects(conn, {column["name"] for column in inspector.get_columns("effects")})
    else:
        present = {column["name"] for column in inspector.get_columns("effects")}
        for name, ddl in _V4_EFFECT_COLUMNS.items():
            if name not in present:
                conn.execute(sa.text(f"ALTER TABLE effects ADD COLUMN {name} {ddl}"))
        old_key = inspector.get_pk_constraint("effects")["name"]
        conn.execute(sa.text(f'ALTER TABLE effects DROP CONSTRAINT "{old_key}"'))
        conn.execute(sa.text("ALTER TABLE effects ADD PRIMARY KEY (key, generation)"))
    _v4_provenance(conn)
    _v4_cancelled(conn)


def _v4_provenance(conn: Connection) -> None:
    """The order or enrollment an effect answers is the resource its event was about (the handlers
    re-read that very id); a cancellation's undo effects get theirs the same way."""
    effects, events = schema.effects, schema.events
    rows = conn.execute(
        sa.select(effects.c.key, events.c.event_type, events.c.payload)
        .join(events, events.c.id == effects.c.event_id)
        .where(effects.c.source_kind.is_(None))
    ).all()
    for key, event_type, payload in rows:
        data = json.loads(payload).get("event_data") if payload else None
        resource = str(data.get("id")) if isinstance(data, dict) else ""
        if not resource.isdigit():
            continue
        kind = event_type.split(".", 1)[0]
        if kind not in ("order", "enrollment"):
            continue
        ids = (
            {"source_order_id": int(resource)} if kind == "order" else {"source_enrollment_id": int(resource)}
        )
        conn.execute(effects.update().where(effects.c.key == key).values(source_kind=kind, **ids))


# The undo actions before v4, and the action each undoes.
_V4_UNDOES = {"cancel": "learner", "unenroll": "enroll"}


def _v4_cancelled(conn: Connection) -> None:
    effects = schema.effects
    undos = conn.execute(
        sa.select(effects).where(effects.c.action.in_(list(_V4_UNDOES)), effects.c.undoes.is_(None))
    ).mappings()
    for undo in undos.all():
        undone = ":".join(
            (undo["partner"], _V4_UNDOES[undo["action"]], undo["educator"], undo["subject"], undo["target"])
        )
        conn.execute(effects.update().where(effects.c.key == undo["key"]).values(undoes=undone))
        if undo["state"] != "done":
            continue
        source = {
            "kind": undo["source_kind"], "enrollment_id": undo["source_enrollment_id"],
            "order_id": undo["source_order_id"], "planned_course_id": None,
        }  # fmt: skip
        cancellation = {
            "by": undo["key"], "event_id": undo["event_id"], "source": source if source["kind"] else None,
            "result": undo["result"], "at": undo["updated_at"].isoformat(),
        }  # fmt: skip
        conn.execute(
            effects.update()
            .where(effects.c.key == undone, effects.c.state == "done")
            .values(state="cancelled", cancellation=cancellation)
        )


def _rebuild_sqlite_effects(conn: Connection, present: set[str]) -> None:
    """SQLite cannot change a primary key in place: copy the rows into a new table.

    Python's sqlite3 runs DDL outside any transaction unless one is open, so one is opened here:
    a failure half-way leaves the old table as it was.
    """
    if not conn.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
        conn.exec_driver_sql("BEGIN")
    for index in schema.effects.indexes:
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {index.name}"))
    conn.execute(sa.text("ALTER TABLE effects RENAME TO effects_before_v4"))
    schema.metadata.create_all(conn, tables=[schema.effects])
    copied = ", ".join(c.name for c in schema.effects.columns if c.name in present)
    conn.execute(sa.text(f"INSERT INTO effects ({copied}) SELECT {copied} FROM effects_before_v4"))  # noqa: S608
    conn.execute(sa.text("DROP TABLE effects_before_v4"))


def _v5_cursors(conn: Connection) -> None:
    """Polling sources keep their read position in the ledger, beside the events they record."""
    schema.metadata.create_all(conn, tables=[schema.cursors])


def _v6_audit_actions(conn: Connection) -> None:
    """The audit records purges and payload retention beside replays: each row says which."""
    present = {column["name"] for column in sa.inspect(conn).get_columns("replays")}
    if "action" not in present:
        conn.execute(sa.text("ALTER TABLE replays ADD COLUMN action VARCHAR(16) NOT NULL DEFAULT 'replay'"))


def _v7_payload_retention(conn: Connection) -> None:
    """Retention marks the events whose payload it replaced by a skeleton, and finds the rest by index."""
    present = {column["name"] for column in sa.inspect(conn).get_columns("events")}
    if "payload_redacted_at" not in present:
        kind = "TIMESTAMP WITH TIME ZONE" if conn.dialect.name == "postgresql" else "DATETIME"
        conn.execute(sa.text(f"ALTER TABLE events ADD COLUMN payload_redacted_at {kind}"))
    for index in schema.events.indexes:
        if index.name == "ix_events_unredacted":
            index.create(conn, checkfirst=True)


# Each step runs once, in order, in its own transaction; append new steps, never edit old ones.
MIGRATIONS: Sequence[Callable[[Connection], None]] = (
    _v1_initial,
    _v2_failure_handling,
    _v3_tenant_in_dedup_key,
    _v4_effect_generations,
    _v5_cursors,
    _v6_audit_actions,
    _v7_payload_retention,
)


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
