"""The receiver's ``/metrics`` with 100,000 events in the ledger, and a worker with its metrics on and off.

    .venv/bin/python -m bench.metrics                  # ~6 min; writes bench/RESULTS.md
    .venv/bin/python -m bench.metrics --events 20000 --worker-events 0 --no-write

Scrape: per backend (SQLite, then a fresh PostgreSQL database when 127.0.0.1:5432 answers; dropped
after) a real ``eduhook serve`` on loopback with an embedded Redis. Each row is ``--rounds``
requests after 3 warm-ups on one keep-alive connection, timed at the client: ``/healthz`` (no SQL:
the baseline), ``/metrics`` on the empty ledger, then ``/metrics`` once bench.console's filler has
put ``--events`` events in the ledger (spread over 30 days and every status). The scrape is checked:
the ledger answered and its counts add up. The collector's queries (``overview()``, as the receiver
calls it) are also timed in this process, and shown with their plans.

Worker: bench.pipeline's world (partner sandboxes with 50 ms per call, receiver, two worker
processes of 32 threads) takes ``--worker-events`` webhooks at ``--rate``/s, once with the workers'
metrics off and once with ``EDUHOOK_WORKER_METRICS_PORT=0``, ``--pairs`` times (off/on, on/off, ...).
``--worker-events 0`` skips it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from bench.console import fill, plans, recording
from bench.metrics_report import MetricsReport, ScrapeResult, Timing, WorkerRun, render
from bench.metrics_workers import run_pair, worker_shape
from bench.procs import BenchError, Children, machine_info
from bench.results import add_output_options, publish
from bench.targets import (
    postgres_database,
    postgres_reachable,
    postgres_version,
    redis_target,
    start_receiver,
)
from eduhook.ledger import create_engine_for
from eduhook.ledger.overview import overview

REPO = Path(__file__).resolve().parent.parent
WARM_UPS = 3


def timed_get(client: httpx.Client, name: str, path: str, rounds: int) -> tuple[Timing, str]:
    """``rounds`` GETs of ``path`` after the warm-ups, and the last answer's text."""
    times: list[float] = []
    answer = None
    for n in range(WARM_UPS + rounds):
        began = time.perf_counter()
        answer = client.get(path)
        elapsed = (time.perf_counter() - began) * 1000
        if answer.status_code != 200:
            raise BenchError(f"GET {path} answered {answer.status_code}: {answer.text[:200]}")
        if n >= WARM_UPS:
            times.append(elapsed)
    assert answer is not None
    return Timing(name, times, len(answer.content)), answer.text


def check_scrape(text: str, events: int) -> None:
    """The ledger answered this scrape, and ``eduhook_events`` adds up to what is in it."""
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    if samples.get(("eduhook_collector_up", (("source", "ledger"),))) != 1:
        raise BenchError("the scrape says the ledger did not answer")
    counted = sum(v for (name, _), v in samples.items() if name == "eduhook_events")
    if counted != events:
        raise BenchError(f"the scrape counts {counted:.0f} events, the ledger holds {events}")


def measure(backend: str, url: str, redis_url: str, work: Path, events: int, rounds: int) -> ScrapeResult:
    children = Children()
    engine = None
    try:
        server = start_receiver(children, work, backend.lower(), url, redis_url)
        engine = create_engine_for(url)
        with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as client:
            baseline = timed_get(client, "`/healthz` (baseline, no SQL)", "/healthz", rounds)[0]
            empty, text = timed_get(client, "`/metrics`, empty ledger", "/metrics", rounds)
            check_scrape(text, 0)
            fill(engine, events, random.Random(12))
            full, text = timed_get(client, f"`/metrics`, {events:,} events", "/metrics", rounds)
            check_scrape(text, events)
        now = dt.datetime.now(dt.UTC)
        in_process = []
        for n in range(WARM_UPS + rounds):
            began = time.perf_counter()
            overview(engine, now)
            if n >= WARM_UPS:
                in_process.append((time.perf_counter() - began) * 1000)
        with recording(engine) as seen:
            overview(engine, now)
        sql = Timing(f"`overview()` in this process, {events:,} events", in_process)
        return ScrapeResult(backend, events, baseline, empty, full, sql, plans(engine, seen))
    finally:
        children.stop_all()
        if engine is not None:
            engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.metrics",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=100_000, help="events in the ledger (100,000)")
    parser.add_argument("--rounds", type=int, default=30, help="timed requests per row (30)")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--worker-events", type=int, default=2000, help="webhooks per worker run (2,000; 0: no worker runs)"
    )
    parser.add_argument("--rate", type=float, default=60.0, help="offered webhooks/s in the worker runs (60)")
    parser.add_argument("--pairs", type=int, default=2, help="worker runs off and on, this many times (2)")
    parser.add_argument("--timeout", type=float, default=180.0, help="hard limit per worker run, s (180)")
    add_output_options(parser, REPO / "bench" / "RESULTS.md", snapshot=False)
    args = parser.parse_args(argv)
    if args.events < 0 or args.rounds < 1 or args.worker_events < 0 or args.pairs < 1:
        parser.error("--events and --worker-events must be 0 or more, --rounds and --pairs 1 or more")
    try:
        report = run(args)
    except BenchError as exc:
        print(f"[bench.metrics] failed: {exc}", file=sys.stderr)
        return 1
    publish(render(report), args.results, write=not args.no_write, tag="bench.metrics", title="Metrics")
    return 0


def run(args: argparse.Namespace) -> MetricsReport:
    """Every measurement ``args`` asks for, in its own temporary directory."""
    scrapes: list[ScrapeResult] = []
    versions: dict[str, str] = {}
    workers: list[WorkerRun] = []
    skipped = "" if args.worker_events > 0 else "`--worker-events 0`"
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        work = Path(tmp)
        with redis_target(work, None) as target:
            sqlite_url = f"sqlite:///{work / 'eduhook.db'}"
            scrapes.append(measure("SQLite", sqlite_url, target.url, work, args.events, args.rounds))
            why_not = "--no-postgres" if args.no_postgres else postgres_reachable(args.postgres)
            if why_not is None:
                versions["PostgreSQL"] = postgres_version(args.postgres)
                with postgres_database(args.postgres) as url:
                    scrapes.append(measure("PostgreSQL", url, target.url, work, args.events, args.rounds))
            else:
                print(f"[bench.metrics] {why_not}: PostgreSQL skipped", file=sys.stderr)
        if args.worker_events > 0:
            workers = run_pair(args.worker_events, args.rate, args.timeout, work / "workers", args.pairs)
    return MetricsReport(
        command=" ".join(["python -m bench.metrics", *_changed(args)]),
        when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine=machine_info() | versions, rounds=args.rounds, scrapes=scrapes, workers=workers,
        worker_shape=worker_shape(), worker_rate=args.rate, worker_skipped=skipped,
    )  # fmt: skip


def _changed(args: argparse.Namespace) -> list[str]:
    """The sizes given on the command line that differ from the defaults, for the report."""
    defaults = {"events": 100_000, "worker_events": 2000, "rate": 60.0, "pairs": 2}
    given = {k: getattr(args, k) for k in defaults}
    return [f"--{k.replace('_', '-')} {v:g}" for k, v in given.items() if v != defaults[k]]


if __name__ == "__main__":
    raise SystemExit(main())
