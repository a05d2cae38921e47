"""``python -m bench.receiver``: eduhook's receiver against a bare Starlette app, in one run.

Measures, for the bare app and for the receiver on SQLite and on PostgreSQL (with Redis): saturated
throughput at 64 connections (wrk), ack latency at a fixed 500 req/s (open loop), server CPU per
request, and, with a worker running at 100 req/s, the delay from the 2xx to the handler starting.
Results go to stdout and replace the receiver section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import itertools
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from bench import phases
from bench.payloads import BodyTemplate, body_template
from bench.procs import REPO_ROOT, BenchError, Children, machine_busy_seconds, machine_info
from bench.report import Report, TargetResult, render, write_section
from bench.targets import (
    RedisTarget,
    Server,
    postgres_database,
    postgres_reachable,
    postgres_version,
    redis_target,
    start_bare,
    start_receiver,
    start_worker,
)
from bench.wrkrun import INSTALL_HINT

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.receiver",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Needs wrk (apt-get install -y wrk). Loopback only; every process it starts is stopped"
        " by PID.",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each saturated (wrk) run")
    parser.add_argument("--rate-duration", type=float, default=10.0, help="seconds of each fixed-rate run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk before measuring")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2 s runs, 1 s warm-up, no RESULTS.md"
    )
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads (1 leaves a core to the server)"
    )
    parser.add_argument("--rate", type=float, default=500.0, help="offered req/s for the latency run")
    parser.add_argument(
        "--worker-rate", type=float, default=100.0, help="offered req/s with a worker running"
    )
    parser.add_argument(
        "--targets",
        default="bare,sqlite,postgres",
        help="what to measure: bare (the baseline), and the receiver on sqlite and/or postgres",
    )
    parser.add_argument("--no-worker", action="store_true", help="skip the run with a worker")
    parser.add_argument("--redis-url", default=None, help="use this Redis instead of an embedded one")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES, help="admin URL; a fresh database is made"
    )
    parser.add_argument("--results", type=Path, default=REPO_ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument(
        "--quiet-wait", type=float, default=120.0, help="wait up to this long for other load to calm down"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, ledgers)")
    args = parser.parse_args(argv)
    if args.quick:
        args.duration, args.rate_duration, args.warmup = 2.0, 2.0, 1.0
        args.no_write = True
    return args


def background_load(seconds: float = 1.0) -> float:
    """Fraction of the machine's CPU busy over ``seconds``."""
    busy0, total0 = machine_busy_seconds()
    time.sleep(seconds)
    busy1, total1 = machine_busy_seconds()
    return (busy1 - busy0) / (total1 - total0) if total1 > total0 else 0.0


def wait_for_quiet(limit: float, threshold: float = 0.15) -> float:
    """Wait (at most ``limit`` s) until the machine is below ``threshold`` busy; return the last load."""
    deadline = time.monotonic() + limit
    load = background_load()
    while load > threshold and time.monotonic() < deadline:
        print(f"  machine {load:.0%} busy with other work; waiting", file=sys.stderr)
        load = background_load(2.0)
    return load


class Run:
    """State shared by the phases of one benchmark run."""

    def __init__(self, args: argparse.Namespace, work: Path, redis: RedisTarget, children: Children) -> None:
        self.args = args
        self.work = work
        self.redis = redis
        self.children = children
        self.template: BodyTemplate = body_template(uuid.uuid4().hex[:10])
        self._seq = itertools.count(1)

    def next_seq(self) -> int:
        return next(self._seq) * 10**11

    def saturate(self, server: Server) -> phases.Saturated:
        a = self.args
        log(
            f"{server.name}: warm-up {a.warmup:.0f} s, then {a.duration:.0f} s at {a.connections} connections"
        )
        phases.saturate(
            server, self.redis, self.template, self.work, first_seq=self.next_seq(),
            connections=a.connections, threads=a.wrk_threads, duration=a.warmup,
        )  # fmt: skip
        self.redis.clear()
        result = phases.saturate(
            server, self.redis, self.template, self.work, first_seq=self.next_seq(),
            connections=a.connections, threads=a.wrk_threads, duration=a.duration,
        )  # fmt: skip
        self.redis.clear()
        return result

    def fixed_rate(self, server: Server) -> phases.FixedRate:
        log(f"{server.name}: {self.args.rate:.0f} req/s open loop for {self.args.rate_duration:.0f} s")
        result = phases.fixed_rate(
            server, self.redis, self.template,
            rate=self.args.rate, duration=self.args.rate_duration, first_seq=self.next_seq(),
        )  # fmt: skip
        self.redis.clear()
        return result

    def to_worker(self, server: Server) -> phases.ToWorker:
        a = self.args
        log(f"{server.name}: worker running, {a.worker_rate:.0f} req/s for {a.rate_duration:.0f} s")
        worker = start_worker(self.children, self.work, server, self.redis.url)
        try:
            phases.wait_worker_ready(worker, server, self.redis, self.template, self.next_seq())
            return phases.to_worker(
                server, self.redis, worker, self.template,
                rate=self.args.worker_rate, duration=self.args.rate_duration, first_seq=self.next_seq(),
            )  # fmt: skip
        finally:
            worker.stop()
            self.redis.clear()


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def ledger_url(backend: str, work: Path, postgres_admin: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{work / 'ledger.db'}"
    elif backend == "postgres":
        with postgres_database(postgres_admin) as url:
            yield url
    else:
        raise BenchError(f"unknown backend {backend!r} (sqlite, postgres)")


def run_receiver(run: Run, backend: str) -> TargetResult:
    label = {"sqlite": "SQLite", "postgres": "PostgreSQL"}.get(backend, backend)
    result = TargetResult(f"receiver, {label}")
    if backend == "postgres" and (why := postgres_reachable(run.args.postgres_url)):
        result.skipped = why
        return result
    with ledger_url(backend, run.work, run.args.postgres_url) as url:
        server = start_receiver(run.children, run.work, backend, url, run.redis.url)
        try:
            result.saturated = run.saturate(server)
            result.rate = run.fixed_rate(server)
            if not run.args.no_worker:
                result.worker = run.to_worker(server)
        finally:
            server.child.stop()
    return result


def run_bare(run: Run) -> TargetResult:
    server = start_bare(run.children, run.work)
    try:
        return TargetResult("bare Starlette", saturated=run.saturate(server), rate=run.fixed_rate(server))
    finally:
        server.child.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(wanted) - {"bare", "sqlite", "postgres"}
    if unknown:
        print(f"unknown targets: {', '.join(sorted(unknown))} (bare, sqlite, postgres)", file=sys.stderr)
        return 2
    backends = [t for t in wanted if t != "bare"]
    load = wait_for_quiet(args.quiet_wait)
    work = Path(tempfile.mkdtemp(prefix="eduhook-bench-"))
    children = Children()
    machine = machine_info()
    wrk_version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    machine["wrk"] = (wrk_version.stdout or wrk_version.stderr).split("[")[0].replace("wrk ", "").strip()
    try:
        with redis_target(work, args.redis_url) as redis:
            machine["redis"] = f"{redis.version()} ({'embedded' if redis.embedded else args.redis_url})"
            if "postgres" in backends and not postgres_reachable(args.postgres_url):
                machine["postgresql"] = postgres_version(args.postgres_url)
            run = Run(args, work, redis, children)
            targets = [run_bare(run)] if "bare" in wanted else []
            targets += [run_receiver(run, b) for b in backends]
    except BenchError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    finally:
        children.stop_all()
        if args.keep:
            log(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    settings = {
        "body size": f"{run.template.size} bytes",
        "saturated runs": f"{args.duration:.0f} s each after {args.warmup:.0f} s warm-up,"
        f" wrk -t{args.wrk_threads} -c{args.connections}",
        "fixed-rate runs": f"{args.rate_duration:.0f} s each; {args.rate:.0f} req/s,"
        f" {args.worker_rate:.0f} req/s with worker",
        "machine load before the run": f"{load:.0%} busy",
    }
    command = "python -m bench.receiver" + ("" if argv is None else " " + shlex.join(argv))
    if argv is None and len(sys.argv) > 1:
        command += " " + shlex.join(sys.argv[1:])
    report = Report(
        command=command,
        when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        settings=settings,
        machine=machine,
        targets=targets,
    )
    section = render(report)
    print(section)
    if not args.no_write:
        write_section(args.results, section)
        log(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
