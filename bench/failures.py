"""Failure-handling benchmark: random Penn Foster 503s against a baseline, and a bulk replay of dead events.

    .venv/bin/python -m bench.failures                  # both modes (~4 min)
    .venv/bin/python -m bench.failures --mode random --events 200 --no-write

``random``: N single-student ``enrollment.created`` webhooks (as in bench.pipeline) while Penn
Foster answers 20 % of learner calls with 503 at random (seeded), after a baseline run of the
same N without faults. ``replay``: N events made dead (every learner call 503, one attempt), then
Penn Foster recovers and ``eduhook replay --dead`` is timed until all succeed. Every run starts
its own processes (with ``eduhook beat``) and stops them by PID, under a hard time limit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys
from typing import Any

from bench.failures_replay import ReplayResult, run_replay
from bench.failures_report import FailuresReport, render
from bench.harness import hard_limit, wait_for_quiet
from bench.pipeline import DEFAULT_CONCURRENCY, DEFAULT_WORKERS
from bench.pipeline_run import RunResult, RunSpec, run_once
from bench.pipeline_sandboxes import LEARNERS_PATH
from bench.pipeline_snapshot import SNAPSHOT_ENV, code_state, rerun_from_snapshot
from bench.procs import REPO_ROOT, BenchError, machine_info
from bench.results import add_output_options, publish

COMMAND_ENV = "EDUHOOK_BENCH_COMMAND"
NEVER_ENDS = 10_000_000  # a fault's count that outlasts any run


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.failures", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--mode", choices=["random", "replay", "both"], default="both", help="(both)")
    parser.add_argument("--events", type=int, default=1000, help="webhooks per run (default 1000)")
    parser.add_argument("--rate", type=float, default=60.0, help="offered webhooks/s (default 60)")
    parser.add_argument("--latency", type=float, default=0.05, help="s added to every partner call (0.05)")
    parser.add_argument("--probability", type=float, default=0.2, help="share of learner calls failed (0.2)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the random fault (7)")
    parser.add_argument("--replay-rate", type=float, default=1000.0, help="replay --rate (default 1000)")
    parser.add_argument("--first-delay", type=float, default=0.5, help="EDUHOOK_RETRY_FIRST_DELAY (0.5)")
    parser.add_argument("--max-delay", type=float, default=5.0, help="EDUHOOK_RETRY_MAX_DELAY (5)")
    parser.add_argument("--interval", type=float, default=0.5, help="EDUHOOK_SCHEDULER_INTERVAL (0.5)")
    parser.add_argument("--timeout", type=float, default=300.0, help="hard limit per run, s (default 300)")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="wait for a quiet machine, s (60)")
    add_output_options(parser, REPO_ROOT / "bench" / "RESULTS.md", snapshot=True)
    return parser.parse_args(argv)


def retry_env(args: argparse.Namespace, **more: str) -> tuple[tuple[str, str], ...]:
    env = {
        "EDUHOOK_RETRY_FIRST_DELAY": f"{args.first_delay:g}",
        "EDUHOOK_RETRY_MAX_DELAY": f"{args.max_delay:g}",
        "EDUHOOK_SCHEDULER_INTERVAL": f"{args.interval:g}",
        **more,
    }
    return tuple(sorted(env.items()))


def learner_fault(probability: float, seed: int | None) -> dict[str, Any]:
    return {"kind": "status", "status": 503, "probability": probability, "seed": seed,
            "path": LEARNERS_PATH, "method": "POST", "count": NEVER_ENDS}  # fmt: skip


def specs(args: argparse.Namespace) -> tuple[list[RunSpec], RunSpec | None]:
    """The random-fault runs (baseline first) and the replay run."""

    def spec(name: str, **changes: Any) -> RunSpec:
        values: dict[str, Any] = dict(
            events=args.events, rate=args.rate, latency=args.latency, concurrency=DEFAULT_CONCURRENCY,
            create_accounts=False, database="sqlite", worker_processes=DEFAULT_WORKERS,
            drain_timeout=max(30.0, args.timeout - args.events / args.rate - 60), name=name,
            env=retry_env(args), beat=True,
        )  # fmt: skip
        return RunSpec(**{**values, **changes})

    runs = [
        spec("no faults (baseline)"),
        spec(
            f"{args.probability:.0%} of learner calls 503",
            penn_foster_faults=(learner_fault(args.probability, args.seed),),
        ),
    ]
    replay = spec(
        "replay", rate=max(args.rate, 100.0), env=retry_env(args, EDUHOOK_RETRY_MAX_ATTEMPTS="1"),
        penn_foster_faults=(learner_fault(1.0, None),),
        drain_timeout=max(30.0, (args.timeout - 60) / 2),
    )  # fmt: skip
    return (runs if args.mode != "replay" else []), (replay if args.mode != "random" else None)


def settings_table(args: argparse.Namespace) -> dict[str, str]:
    return {
        "webhooks per run": f"{args.events:,} `enrollment.created` at {args.rate:g}/s (replay: ≥ 100/s)",
        "partner latency": f"{args.latency * 1000:.0f} ms added to every partner call",
        "workers": f"{DEFAULT_WORKERS} x threads -c {DEFAULT_CONCURRENCY}, plus `eduhook beat`",
        "retry settings": ", ".join(f"`{k}={v}`" for k, v in retry_env(args))
        + " (fast, for the benchmark; defaults are 30 s / 3600 s / 5 s), jitter full, 12 attempts",
        "random fault": f"503 on `POST {LEARNERS_PATH}`, probability {args.probability:g}, seed {args.seed}",
        "replay": f"`EDUHOOK_RETRY_MAX_ATTEMPTS=1` while making events dead; `--rate {args.replay_rate:g}`",
    }  # fmt: skip


def _guarded(label: str, args: argparse.Namespace, work: Any) -> Any:
    print(f"[failures] {label} …", file=sys.stderr)
    wait_for_quiet(args.quiet_wait, tag="failures")
    try:
        with hard_limit(args.timeout):
            return work()
    except BenchError as exc:
        print(f"[failures] {label} failed: {exc}", file=sys.stderr)
        return str(exc).splitlines()[0]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = os.environ.get(COMMAND_ENV) or "python -m bench.failures " + shlex.join(argv)
    if args.snapshot and SNAPSHOT_ENV not in os.environ:
        os.environ[COMMAND_ENV] = command.strip()
        overrides = ["--no-snapshot", "--results", str(args.results.resolve())]
        limit = 3 * (args.timeout + args.quiet_wait) + 300
        return rerun_from_snapshot([*argv, *overrides], timeout=limit, module="bench.failures")
    code = code_state()
    runs, replay_spec = specs(args)
    report = FailuresReport(
        command=command.strip(), when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine={**machine_info(), "commit": code}, settings=settings_table(args),
    )  # fmt: skip
    for spec in runs:
        outcome = _guarded(spec.label, args, lambda spec=spec: run_once(spec))
        if isinstance(outcome, RunResult):
            report.runs.append(outcome)
        else:
            report.failed.append((spec.label, outcome))
    if replay_spec is not None:
        outcome = _guarded("replay", args, lambda: run_replay(replay_spec, args.replay_rate))
        if isinstance(outcome, ReplayResult):
            report.replay = outcome
        else:
            report.failed.append(("replay", outcome))
    publish(render(report), args.results, write=not args.no_write, tag="failures", title="Failure handling")
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
