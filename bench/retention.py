"""Retention benchmark: what a daily run costs as the history grows, and how fast it redacts.

    .venv/bin/python -m bench.retention                        # SQLite and PostgreSQL (~2 min)
    .venv/bin/python -m bench.retention --history 20000 --database sqlite --no-write

On a fresh ledger per database, in this process:
- *idle run*: ``--history`` final events received 100 days ago, already redacted, and nothing
  new to do: the run a day after the last one. Timed with the partial index ``ix_events_unredacted``
  and, as the baseline, after dropping it (the ``(status, received_at)`` index is still there);
- *redaction*: ``--fresh`` unredacted events of a webhook-sized payload: ``apply_retention`` (chunks
  of 500, one transaction each) against the floor of one ``UPDATE`` setting the same rows' payload
  to a constant.
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
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.pipeline_snapshot import code_state
from bench.procs import REPO_ROOT
from bench.results import add_output_options, publish
from bench.targets import postgres_database, postgres_reachable
from eduhook.ledger import create_engine_for, upgrade
from eduhook.ledger.retention import RetentionLedger
from eduhook.ledger.schema import SUCCEEDED, events

ADMIN_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
START, END = "<!-- bench.retention: start -->", "<!-- bench.retention: end -->"
NOW = dt.datetime.now(dt.UTC)
CUTOFF = NOW - dt.timedelta(days=90)
PAYLOAD = orjson.dumps({
    "tenant_id": "6f1c2a9e-0000-4000-8000-000000000001", "educator": "bench", "event": "enrollment.created",
    "event_data": {"id": 70001, "student_id": 501, "planned_course_id": 202, "first_name": "Ann-Marie",
                   "last_name": "Tester", "email": "ann@example.com", "address": {"city": "Scranton"}},
}).decode()  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.retention", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--history", type=int, default=200_000, help="redacted events (200000)")
    parser.add_argument("--fresh", type=int, default=20_000, help="events to redact (20000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed idle runs per case (5)")
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    add_output_options(parser, REPO_ROOT / "bench" / "RESULTS.md", snapshot=False)
    return parser.parse_args(argv)


def load(engine: Engine, count: int, *, redacted: bool) -> None:
    received = NOW - dt.timedelta(days=100)
    for start in range(0, count, 5000):
        rows = [
            {"id": str(uuid.uuid4()), "educator": "bench", "tenant_id": "t",
             "event_type": "enrollment.created", "dedup_key": uuid.uuid4().hex,
             "payload": "{}" if redacted else PAYLOAD, "status": SUCCEEDED, "attempts": 1,
             "received_at": received, "updated_at": received,
             "payload_redacted_at": NOW - dt.timedelta(days=1) if redacted else None}
            for _ in range(min(5000, count - start))
        ]  # fmt: skip
        with engine.begin() as conn:
            conn.execute(events.insert(), rows)
    with engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))


def timed(action: Callable[[], object]) -> float:
    began = time.perf_counter()
    action()
    return time.perf_counter() - began


def idle_run(retention: RetentionLedger) -> int:
    return retention.apply_retention(CUTOFF, NOW, actor="bench", reason="bench")


@contextlib.contextmanager
def fresh(database: str, folder: Path) -> Iterator[str]:
    if database == "sqlite":
        yield f"sqlite:///{folder / f'{uuid.uuid4().hex}.db'}"
        return
    with postgres_database(ADMIN_POSTGRES) as url:
        yield url


def measure(url: str, args: argparse.Namespace) -> list[str]:
    engine = create_engine_for(url)
    upgrade(engine)
    retention = RetentionLedger(engine)
    rows: list[str] = []
    try:
        load(engine, args.history, redacted=True)
        with_index = statistics.median(timed(lambda: idle_run(retention)) for _ in range(args.repeat))
        with engine.begin() as conn:
            conn.execute(sa.text("DROP INDEX ix_events_unredacted"))
            conn.execute(sa.text("ANALYZE"))
        without = statistics.median(timed(lambda: idle_run(retention)) for _ in range(args.repeat))
        rows.append(f"idle run over {args.history:,} redacted events | {with_index * 1000:,.1f} ms |"
                    f" {without * 1000:,.1f} ms (without the partial index)")  # fmt: skip
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE INDEX ix_events_unredacted ON events (status, received_at)"
                                 " WHERE payload_redacted_at IS NULL"))  # fmt: skip
        load(engine, args.fresh, redacted=False)
        done = 0

        def redact() -> None:
            nonlocal done
            done = retention.apply_retention(CUTOFF, NOW, actor="bench", reason="bench")

        spent = timed(redact)
        assert done == args.fresh, f"redacted {done} of {args.fresh}"
        with engine.begin() as conn:  # the floor: the same rows, one statement, a constant payload
            floor = timed(lambda: conn.execute(
                events.update().where(events.c.payload_redacted_at == NOW).values(payload="{}")
            ))  # fmt: skip
        rows.append(f"redact {args.fresh:,} payloads | {args.fresh / spent:,.0f}/s ({spent:.2f} s) |"
                    f" the same rows in one constant UPDATE: {args.fresh / floor:,.0f}/s")  # fmt: skip
    finally:
        engine.dispose()
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    command = f"`.venv/bin/python -m bench.retention {' '.join(argv)}`".replace(" `", "`")
    lines = [START, "## Retention benchmark", "", f"Measured {NOW:%Y-%m-%d %H:%M} UTC with {command}"
             f" ({code_state()}).", "", "| database | case | eduhook | baseline |",
             "|---|---|---:|---|"]  # fmt: skip
    failed = 0
    with tempfile.TemporaryDirectory(prefix="eduhook-retention-") as directory:
        for database in databases:
            if database == "postgres" and (why := postgres_reachable(ADMIN_POSTGRES)):
                lines.append(f"| postgres | not measured: {why} | | |")
                failed += 1
                continue
            print(f"[retention] {database} …", file=sys.stderr)
            with fresh(database, Path(directory)) as url:
                lines += [f"| {database} | {row} |" for row in measure(url, args)]
    lines += [
        "",
        "The idle run is the daily run after the last one: with the partial index it reads only the",
        "payloads not yet redacted; the baseline walks every old final event.",
        END,
    ]
    publish(
        "\n".join(lines) + "\n", args.results, write=not args.no_write, tag="retention", title="Retention"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
