"""The ops console's server time with 100,000 events in the ledger, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.console                 # ~2 min; writes bench/RESULTS.md
    .venv/bin/python -m bench.console --events 20000 --no-write

Each backend gets a fresh ledger filled with ``--events`` events spread over 30 days (most
succeeded, some dead, failed, ignored and pending, over 20 educators, 6 types and 3 partners), an
embedded Redis, and the console on loopback in this process. Each page is asked for ``--rounds``
times after a warm-up by a logged-in client; the time is the server's own (the console's
``Server-Timing`` header: from the request's arrival to its answer's start). The login page,
which reads nothing, is the baseline. The SQL each page runs is recorded and shown with its
query plan (``EXPLAIN QUERY PLAN`` / ``EXPLAIN``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.console_report import START, BackendResult, PageResult, render
from bench.procs import machine_info
from bench.results import add_output_options, publish
from bench.targets import postgres_database, postgres_reachable, postgres_version, redis_target
from eduhook.ledger import create_engine_for, schema, upgrade
from eduhook.settings import Settings

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "bench password 0123"
NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
PAGES = {
    "login page (baseline, no SQL)": "/login",
    "overview": "/",
    "events, first page": "/events",
    "events, dead at pennfoster, 50 rows": "/events?status=dead&partner=pennfoster&limit=50",
    "events, one educator and type, 1 day": "/events?educator=edu-7&type=order.approved"
    "&since=2026-11-20&until=2026-11-21",
    "dead letters, pennfoster transient": "/dead-letters?partner=pennfoster&error_class=transient",
}
STATUSES = [("succeeded", 80), ("dead", 5), ("failed", 5), ("ignored", 6), ("queued", 2), ("received", 2)]
TYPES = ["order.approved", "order.canceled", "enrollment.created", "enrollment.updated", "lead.created",
         "user.updated"]  # fmt: skip


def fill(engine: Engine, count: int, rng: random.Random) -> None:
    """``count`` events in chunks of 5,000, as the receiver would have left them."""
    statuses = [s for s, weight in STATUSES for _ in range(weight)]
    for start in range(0, count, 5000):
        rows: list[dict[str, Any]] = []
        for _ in range(min(5000, count - start)):
            status = rng.choice(statuses)
            failing = status in ("dead", "failed")
            received = NOW - dt.timedelta(seconds=rng.uniform(0, 30 * 86400))
            event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            rows.append({
                "id": event_id, "source": "eduframe", "educator": f"edu-{rng.randrange(20)}",
                "tenant_id": "t", "event_type": rng.choice(TYPES), "dedup_key": event_id, "status": status,
                "payload": '{"event_data": {"id": 1, "email": "someone@example.com"}}',
                "status_reason": "still failing after 12 attempts" if status == "dead" else None,
                "attempts": 12 if status == "dead" else int(failing), "received_at": received,
                "updated_at": received,
                "next_attempt_at": received + dt.timedelta(minutes=5) if status == "failed" else None,
                "last_partner": rng.choice(["pennfoster", "appsembler", "eduframe"]) if failing else None,
                "last_error_class": rng.choice(["transient", "permanent"]) if failing else None,
                "last_http_status": 503 if failing else None,
            })  # fmt: skip
        with engine.begin() as conn:
            conn.execute(schema.events.insert(), rows)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))


@contextmanager
def recording(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements ``engine`` runs meanwhile, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


def plans(engine: Engine, statements: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """Each distinct statement with its query plan on this backend."""
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    shown: list[tuple[str, str]] = []
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        distinct = {(s, repr(p)): (s, p) for s, p in statements}
        for statement, parameters in distinct.values():
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            cursor = raw.cursor()
            cursor.execute(prefix + statement, parameters)
            lines = [" ".join(str(c) for c in row[-1:]) if engine.dialect.name == "sqlite" else str(row[0])
                     for row in cursor.fetchall()]  # fmt: skip
            cursor.close()
            shown.append((re.sub(r"\s+", " ", statement).strip(), "\n".join(lines)))
    return shown


def measure(backend: str, url: str, redis_url: str, work: Path, events: int, rounds: int) -> BackendResult:
    from console.app import create_app
    from console.users import entry_for, parse_users
    from sandbox.server import serve_in_thread

    engine = create_engine_for(url)
    upgrade(engine)
    fill(engine, events, random.Random(12))
    engine.dispose()
    settings = Settings(data_dir=work, database_url=url, redis_url=redis_url)
    users = parse_users(entry_for("bench", PASSWORD, pii=False))
    app = create_app(settings, redis_url=redis_url, users=users, secret="bench-secret-" + "x" * 32)
    server = serve_in_thread(app)
    console_engine: Engine = app.state.console.engine
    results: list[PageResult] = []
    try:
        client = httpx.Client(base_url=server.url, timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        login = {"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)}
        assert client.post("/login", data=login).status_code == 303
        anonymous = httpx.Client(base_url=server.url, timeout=30)
        for name, path in PAGES.items():
            asking = anonymous if path == "/login" else client
            for _ in range(3):
                assert asking.get(path).status_code == 200, path
            times = []
            for _ in range(rounds):
                answer = asking.get(path)
                assert answer.status_code == 200
                times.append(float(answer.headers["server-timing"].split("dur=")[1]))
            with recording(console_engine) as seen:
                rows = len(re.findall(r"<tr data-event-id=", asking.get(path).text))
            results.append(PageResult(name, path, times, rows, plans(console_engine, seen)))
        client.close()
        anonymous.close()
    finally:
        server.stop()
    return BackendResult(backend, events, results)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    add_output_options(parser, REPO / "bench" / "RESULTS.md", snapshot=False)
    args = parser.parse_args()
    backends: list[BackendResult] = []
    versions: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-console-") as tmp:
        work = Path(tmp)
        with redis_target(work, None) as target:
            sqlite_url = f"sqlite:///{work / 'eduhook.db'}"
            backends.append(measure("SQLite", sqlite_url, target.url, work, args.events, args.rounds))
            why_not = postgres_reachable(args.postgres)
            if why_not is None:
                versions["PostgreSQL"] = postgres_version(args.postgres)
                with postgres_database(args.postgres) as url:
                    backends.append(measure("PostgreSQL", url, target.url, work, args.events, args.rounds))
            else:
                print(f"[bench.console] {why_not}: PostgreSQL skipped")
    command = "python -m bench.console" + (f" --events {args.events}" if args.events != 100_000 else "")
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = render(command, when, machine_info() | versions, args.rounds, backends)
    publish(section, args.results, write=not args.no_write, tag="bench.console", title=START)


if __name__ == "__main__":
    main()
