"""``python -m bench.receiver``: eduhook's receiver against a bare Starlette app, in one run.

Measures, for the bare app and for the receiver on SQLite and on PostgreSQL (with Redis): saturated
throughput at 64 connections (wrk), ack latency at a fixed 500 req/s (open loop), server CPU per
request, and, with a worker running at 100 req/s, the delay from the 2xx to the handler starting.
All targets run side by side and are measured in interleaved rounds. Results go to stdout and
replace the receiver section of bench/RESULTS.md (other sections are kept).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.procs import REPO_ROOT, BenchError, Children, machine_info
from bench.report import Report, render, write_section
from bench.run import Run, log, wait_for_quiet
from bench.targets import postgres_reachable, postgres_version, redis_target
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
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all targets")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each saturated (wrk) run")
    parser.add_argument("--rate-duration", type=float, default=10.0, help="seconds of each fixed-rate run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk before measuring")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 1 round, 2 s runs, 1 s warm-up, no RESULTS.md"
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
    parser.add_argument(
        "--results", type=Path, default=REPO_ROOT / "bench" / "RESULTS.md", help="markdown file to update"
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    parser.add_argument(
        "--quiet-wait", type=float, default=120.0, help="wait up to this long for other load to calm down"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, ledgers)")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.duration, args.rate_duration, args.warmup = 1, 2.0, 2.0, 1.0
        args.no_write = True
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    wanted = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = set(wanted) - {"bare", "sqlite", "postgres"}
    if unknown or not wanted:
        print(f"unknown targets: {', '.join(sorted(unknown))} (bare, sqlite, postgres)", file=sys.stderr)
        return 2
    load = wait_for_quiet(args.quiet_wait)
    work = Path(tempfile.mkdtemp(prefix="eduhook-bench-"))
    children = Children()
    machine = machine_info()
    version = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    machine["wrk"] = (version.stdout or version.stderr).split("[")[0].replace("wrk ", "").strip()
    try:
        with redis_target(work, args.redis_url) as redis, contextlib.ExitStack() as stack:
            machine["redis"] = f"{redis.version()} ({'embedded' if redis.embedded else args.redis_url})"
            if "postgres" in wanted and not postgres_reachable(args.postgres_url):
                machine["postgresql"] = postgres_version(args.postgres_url)
            run = Run(args, work, redis, children)
            targets = run.start(wanted, stack)
            run.measure(targets)
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
        "rounds": str(args.rounds),
        "saturated runs": f"{args.duration:.0f} s per target per round after a {args.warmup:.0f} s warm-up,"
        f" wrk -t{args.wrk_threads} -c{args.connections}",
        "fixed-rate runs": f"{args.rate_duration:.0f} s per target per round at {args.rate:.0f} req/s;"
        f" {args.worker_rate:.0f} req/s for {args.rate_duration:.0f} s with a worker",
        "machine busy with other work before the run": f"{load:.0%}",
    }
    given = sys.argv[1:] if argv is None else argv
    report = Report(
        command=".venv/bin/python -m bench.receiver" + (" " + shlex.join(given) if given else ""),
        when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        settings=settings,
        machine=machine,
        targets=[t.result for t in targets],
        round_loads=run.round_loads,
    )
    section = render(report)
    print(section)
    if not args.no_write:
        write_section(args.results, section)
        log(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
