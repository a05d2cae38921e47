"""Scheduler benchmark: the cost of one ``Scheduler.run()`` with 100,000 future retries in the ledger.

    .venv/bin/python -m bench.scheduler                 # SQLite and PostgreSQL (~2 min)
    .venv/bin/python -m bench.scheduler --future 10000 --database sqlite --no-write

In this process, on a fresh ledger per case: an empty ledger, only a small due set, and
``--future`` ``failed`` events whose ``next_attempt_at`` is hours away plus the same due set.
Each repetition puts the due set back and times ``Scheduler.run()`` (workers/schedule.py, with
a publish that does nothing) and, apart, ``ScheduleLedger.claim_due``; CPU is this process's,
plus the PostgreSQL backend's. The plan of the due query is the database's own EXPLAIN of the
statement ``claim_due`` sent, captured as it ran.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.harness import hard_limit
from bench.pipeline_measure import backend_cpu
from bench.pipeline_snapshot import code_state
from bench.procs import REPO_ROOT, BenchError, machine_info
from bench.results import add_output_options, publish
from bench.scheduler_report import Case, SchedulerReport, render
from bench.targets import postgres_database, postgres_reachable, postgres_version
from eduhook.ledger import EventLedger, create_engine_for
from eduhook.ledger.database import upgrade
from eduhook.ledger.schedule import ScheduleLedger
from eduhook.ledger.schema import FAILED, events
from workers.schedule import BATCH, Scheduler

ADMIN_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CHUNK = 5000  # rows per INSERT while loading


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.scheduler", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--future", type=int, default=100_000, help="future retries (default 100000)")
    parser.add_argument("--due", type=int, default=100, help="events due at each run (default 100)")
    parser.add_argument("--repeat", type=int, default=30, help="timed runs per case (default 30)")
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both", help="(both)")
    parser.add_argument("--timeout", type=float, default=300.0, help="hard limit per database, s (300)")
    add_output_options(parser, REPO_ROOT / "bench" / "RESULTS.md", snapshot=False)
    return parser.parse_args(argv)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def load(engine: Engine, count: int, *, due: bool) -> list[str]:
    """``count`` failed events: due a second ago, or spread over the next 1 to 5 hours."""
    now = _now()
    ids = [str(uuid.uuid4()) for _ in range(count)]
    for start in range(0, count, CHUNK):
        rows = [
            {"id": i, "educator": "bench", "tenant_id": "t", "event_type": "enrollment.created",
             "dedup_key": uuid.uuid4().hex, "payload": "{}", "status": FAILED, "attempts": 1,
             "next_attempt_at": now - dt.timedelta(seconds=1) if due
             else now + dt.timedelta(hours=1, seconds=(n * 14_400) // max(count, 1)),
             "received_at": now, "updated_at": now}
            for n, i in enumerate(ids[start : start + CHUNK], start=start)
        ]  # fmt: skip
        with engine.begin() as conn:
            conn.execute(events.insert(), rows)
    return ids


def make_due(engine: Engine, ids: Sequence[str]) -> None:
    """Put the due set back: ``failed`` and due a second ago (a run moved it to ``queued``)."""
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(
            events.update()
            .where(events.c.id.in_(list(ids)))
            .values(status=FAILED, next_attempt_at=_now() - dt.timedelta(seconds=1))
        )


@dataclass
class Sample:
    wall: list[float] = field(default_factory=list)  # ms
    cpu: list[float] = field(default_factory=list)  # ms, this process
    server: list[float] = field(default_factory=list)  # ms, PostgreSQL backends
    picked: list[int] = field(default_factory=list)


def timed(engine: Engine, due_ids: Sequence[str], repeat: int, database: str | None, work: Any) -> Sample:
    sample = Sample()
    for _ in range(repeat):
        make_due(engine, due_ids)
        before = backend_cpu(database) if database else {}
        cpu0, wall0 = time.process_time(), time.perf_counter()
        picked = work()
        wall1, cpu1 = time.perf_counter(), time.process_time()
        if database:
            after = backend_cpu(database)
            sample.server.append(1000 * sum(c - before.get(pid, 0.0) for pid, c in after.items()))
        sample.wall.append(1000 * (wall1 - wall0))
        sample.cpu.append(1000 * (cpu1 - cpu0))
        sample.picked.append(picked)
    return sample


@contextlib.contextmanager
def captured(engine: Engine, needle: str) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and parameters) the engine sends that contain ``needle``."""
    seen: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if needle in statement:
            seen.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)


def plan(engine: Engine, due_ids: Sequence[str]) -> list[str]:
    """EXPLAIN (QUERY PLAN on SQLite) of the statement ``claim_due`` really sends."""
    make_due(engine, due_ids)
    with captured(engine, "next_attempt_at") as seen:
        ScheduleLedger(engine).claim_due(_now(), BATCH)
    if not seen:
        raise BenchError("claim_due sent no statement naming next_attempt_at")
    statement, parameters = seen[-1]
    explain = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.begin() as conn:  # rolled back below: EXPLAIN alone changes nothing anyway
        rows = conn.exec_driver_sql(explain + statement, parameters).all()
        conn.rollback()
    if engine.dialect.name == "sqlite":
        return [f"{'  ' * int(row[1] > 0)}{row[3]}" for row in rows]
    return [str(row[0]) for row in rows]


def measure_case(url: str, name: str, future: int, due: int, repeat: int) -> Case:
    engine = create_engine_for(url)
    database = url.rsplit("/", 1)[1] if engine.dialect.name == "postgresql" else None
    try:
        upgrade(engine)
        started = time.perf_counter()
        load(engine, future, due=False)
        due_ids = load(engine, due, due=True)
        loaded_s = time.perf_counter() - started
        if database:
            with engine.connect() as conn:  # autovacuum would, given time; the plan depends on it
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE events")
        ledger = EventLedger(engine)
        scheduler = Scheduler(
            events=ledger, schedule=ScheduleLedger(engine), publish=lambda ids: None, clock=_now,
            abandon_after=dt.timedelta(seconds=330), requeue_after=dt.timedelta(seconds=300), max_abandoned=3,
        )  # fmt: skip
        timed(engine, due_ids, 3, database, lambda: scheduler.run().queued)  # warm caches and connections
        runs = timed(engine, due_ids, repeat, database, lambda: scheduler.run().queued)
        schedule = ScheduleLedger(engine)
        claims = timed(engine, due_ids, repeat, database, lambda: len(schedule.claim_due(_now(), BATCH)))
        return Case(
            database=engine.dialect.name, name=name, future=future, due=due, loaded_s=loaded_s,
            run_wall=statistics.median(runs.wall), run_cpu=statistics.median(runs.cpu),
            run_server=statistics.median(runs.server) if runs.server else None,
            claim_wall=statistics.median(claims.wall), claim_cpu=statistics.median(claims.cpu),
            claim_server=statistics.median(claims.server) if claims.server else None,
            run_p90=sorted(runs.wall)[int(0.9 * (len(runs.wall) - 1))], picked=set(runs.picked),
            plan=plan(engine, due_ids),
        )  # fmt: skip
    finally:
        engine.dispose()


def cases(args: argparse.Namespace) -> list[tuple[str, int, int]]:
    return [("empty ledger", 0, 0), (f"{args.due} due only", 0, args.due),
            (f"{args.future:,} future + {args.due} due", args.future, args.due)]  # fmt: skip


@contextlib.contextmanager
def fresh(database: str, work: Path, number: int) -> Iterator[str]:
    if database == "postgres":
        with postgres_database(ADMIN_POSTGRES) as url:
            yield url
    else:
        yield f"sqlite:///{work / f'ledger-{number}.db'}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    report = SchedulerReport(
        command="python -m bench.scheduler " + " ".join(argv), code=code_state(),
        when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), machine=machine_info(),
        repeat=args.repeat,
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="eduhook-scheduler-") as directory:
        for database in databases:
            if database == "postgres" and (why := postgres_reachable(ADMIN_POSTGRES)):
                report.failed.append((database, why))
                continue
            try:
                with hard_limit(args.timeout):
                    for number, (name, future, due) in enumerate(cases(args)):
                        print(f"[scheduler] {database}: {name} …", file=sys.stderr)
                        with fresh(database, Path(directory), number) as url:
                            report.cases.append(measure_case(url, name, future, due, args.repeat))
            except (BenchError, sa.exc.SQLAlchemyError) as exc:
                report.failed.append((database, str(exc).splitlines()[0]))
        if "postgres" in databases and not postgres_reachable(ADMIN_POSTGRES):
            report.machine["postgresql"] = postgres_version(ADMIN_POSTGRES)
    report.machine["commit"] = report.code
    publish(render(report), args.results, write=not args.no_write, tag="scheduler", title="Scheduler")
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
