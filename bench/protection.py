"""Protection benchmark: eduhook with its budgets and breakers on, and off, in the same run.

    .venv/bin/python -m bench.protection                 # both scenarios, on and off (~8 min)
    .venv/bin/python -m bench.protection --scenario burst --burst-events 100 --no-write

``burst``: N ``enrollment.created`` webhooks sent at once against the Eduframe sandbox's window
(the issue's 1,000 against 100 per 10 s, scaled to 300 by default). ``outage``: Penn Foster
answers 503 to everything for the first ``--outage`` seconds while N webhooks arrive at
``--outage-rate`` per second (the issue's 2 minutes and 1,000 at 10/s, scaled to 40 s and 300).
Off means ``EDUHOOK_LIMIT_EDUFRAME=off`` and ``EDUHOOK_BREAKER_ENABLED=false``. Every run starts
its own processes (workers, ``eduhook beat``, the sandboxes) and stops them by PID.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import sys

from bench.harness import hard_limit, wait_for_quiet
from bench.pipeline import DEFAULT_CONCURRENCY, DEFAULT_WORKERS
from bench.pipeline_snapshot import SNAPSHOT_ENV, code_state, rerun_from_snapshot
from bench.procs import REPO_ROOT, BenchError, machine_info
from bench.protection_report import ProtectionReport, render
from bench.protection_run import Scenario, ScenarioResult, run_scenario
from bench.results import add_output_options, publish

COMMAND_ENV = "EDUHOOK_BENCH_COMMAND"
# The pipeline's world runs eduhook unprotected by default; each run says what it wants.
ON = {"EDUHOOK_BREAKER_ENABLED": "true"}
OFF = {"EDUHOOK_LIMIT_EDUFRAME": "off", "EDUHOOK_BREAKER_ENABLED": "false"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.protection", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scenario", choices=["burst", "outage", "both"], default="both", help="(both)")
    parser.add_argument("--burst-events", type=int, default=300, help="webhooks of the burst (300)")
    parser.add_argument("--window", default="100/10", help="Eduframe's window for the burst, N/S (100/10)")
    parser.add_argument("--outage-events", type=int, default=300, help="webhooks of the outage run (300)")
    parser.add_argument("--outage-rate", type=float, default=10.0, help="their rate, per second (10)")
    parser.add_argument("--outage", type=float, default=40.0, help="seconds Penn Foster is down (40)")
    parser.add_argument("--cooldown", type=float, default=5.0, help="EDUHOOK_BREAKER_COOLDOWN (5)")
    parser.add_argument("--max-cooldown", type=float, default=20.0, help="EDUHOOK_BREAKER_MAX_COOLDOWN (20)")
    parser.add_argument("--timeout", type=float, default=400.0, help="hard limit per run, s (400)")
    parser.add_argument("--quiet-wait", type=float, default=60.0, help="wait for a quiet machine, s (60)")
    add_output_options(parser, REPO_ROOT / "bench" / "RESULTS.md", snapshot=True)
    return parser.parse_args(argv)


def window(args: argparse.Namespace) -> tuple[int, int]:
    requests, _, seconds = args.window.partition("/")
    return int(requests), int(seconds)


def common_env(args: argparse.Namespace) -> dict[str, str]:
    """Fast retries and scheduler (as bench.failures), and cool-downs scaled to the outage."""
    return {
        "EDUHOOK_RETRY_FIRST_DELAY": "0.5",
        "EDUHOOK_RETRY_MAX_DELAY": "5",
        "EDUHOOK_SCHEDULER_INTERVAL": "0.5",
        "EDUHOOK_BREAKER_COOLDOWN": f"{args.cooldown:g}",
        "EDUHOOK_BREAKER_MAX_COOLDOWN": f"{args.max_cooldown:g}",
    }


def scenarios(args: argparse.Namespace) -> list[Scenario]:
    """Each scenario with protection on, then off."""
    found = []
    requests, seconds = window(args)
    for protection in (True, False):
        env = common_env(args) | (ON if protection else OFF)
        if args.scenario in ("burst", "both"):
            burst_env = env | ({"EDUHOOK_LIMIT_EDUFRAME": args.window} if protection else {})
            found.append(Scenario(
                "burst", protection, args.burst_events, rate=200.0, window=(requests, seconds), outage=0.0,
                env=tuple(sorted(burst_env.items())), drain_timeout=args.timeout - 60,
            ))  # fmt: skip
        if args.scenario in ("outage", "both"):
            # Eduframe unlimited on both sides: the breaker alone is measured.
            outage_env = env | {"EDUHOOK_LIMIT_EDUFRAME": "off"}
            found.append(Scenario(
                "outage", protection, args.outage_events, rate=args.outage_rate, window=None,
                outage=args.outage, env=tuple(sorted(outage_env.items())), drain_timeout=args.timeout - 60,
            ))  # fmt: skip
    return sorted(found, key=lambda s: (s.kind != "burst", not s.protection))


def settings_table(args: argparse.Namespace) -> dict[str, str]:
    return {
        "burst": f"{args.burst_events:,} `enrollment.created` sent at once; the Eduframe sandbox allows"
        f" {args.window} (per token); protection on: `EDUHOOK_LIMIT_EDUFRAME={args.window}`",
        "outage": f"{args.outage_events:,} `enrollment.created` at {args.outage_rate:g}/s; Penn Foster"
        f" answers 503 to every call for the first {args.outage:g} s; no Eduframe limit on either side",
        "scaled from the issue": "1,000 events → the counts above; a 2-minute outage → the seconds above",
        "off": "`EDUHOOK_LIMIT_EDUFRAME=off`, `EDUHOOK_BREAKER_ENABLED=false`",
        "workers": f"{DEFAULT_WORKERS} x threads -c {DEFAULT_CONCURRENCY}, plus `eduhook beat`;"
        " 50 ms added to every partner call",
        "retries and breaker": ", ".join(f"`{k}={v}`" for k, v in sorted(common_env(args).items()))
        + " (fast, for the benchmark; defaults 30 s / 3600 s / 5 s / 30 s / 300 s), 12 attempts",
    }  # fmt: skip


def _guarded(scenario: Scenario, args: argparse.Namespace) -> ScenarioResult | str:
    print(f"[protection] {scenario.label} …", file=sys.stderr)
    wait_for_quiet(args.quiet_wait, tag="protection")
    try:
        with hard_limit(args.timeout):
            return run_scenario(scenario)
    except BenchError as exc:
        print(f"[protection] {scenario.label} failed: {exc}", file=sys.stderr)
        return str(exc).splitlines()[0]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    command = os.environ.get(COMMAND_ENV) or "python -m bench.protection " + shlex.join(argv)
    if args.snapshot and SNAPSHOT_ENV not in os.environ:
        os.environ[COMMAND_ENV] = command.strip()
        overrides = ["--no-snapshot", "--results", str(args.results.resolve())]
        limit = 4 * (args.timeout + args.quiet_wait) + 300
        return rerun_from_snapshot([*argv, *overrides], timeout=limit, module="bench.protection")
    report = ProtectionReport(
        command=command.strip(), when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine={**machine_info(), "commit": code_state()}, settings=settings_table(args),
    )  # fmt: skip
    for scenario in scenarios(args):
        outcome = _guarded(scenario, args)
        if isinstance(outcome, ScenarioResult):
            report.results.append(outcome)
        else:
            report.failed.append((scenario.label, outcome))
    publish(
        render(report), args.results, write=not args.no_write, tag="protection", title="Partner protection"
    )
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
