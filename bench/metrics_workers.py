"""bench.metrics' worker runs: bench.pipeline's world with the workers' metrics off, then on."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

from bench.harness import hard_limit, wait_for_quiet
from bench.metrics_report import WorkerRun
from bench.pipeline_run import RunSpec, run_once, shape_label
from bench.procs import BenchError

WORKERS = 2  # bench.pipeline's default shape: two processes of 32 threads
CONCURRENCY = 32
LATENCY = 0.05  # s added to every partner call
SERVING = "worker metrics on http://"  # what a worker logs once its /metrics listens


def worker_shape() -> str:
    return shape_label(WORKERS, "threads", CONCURRENCY)


def spec(events: int, rate: float, timeout: float, metrics_on: bool) -> RunSpec:
    return RunSpec(
        events=events, rate=rate, latency=LATENCY, concurrency=CONCURRENCY, create_accounts=False,
        database="sqlite", worker_processes=WORKERS, drain_timeout=max(30.0, timeout - events / rate - 60),
        name=f"worker metrics {'on' if metrics_on else 'off'}",
        env=(("EDUHOOK_WORKER_METRICS_PORT", "0"),) if metrics_on else (),
    )  # fmt: skip


def run_pair(events: int, rate: float, timeout: float, work: Path, pairs: int = 1) -> list[WorkerRun]:
    """Off then on, then on then off, and so on ``pairs`` times (so neither side always runs first on a
    machine that warms up or gets busier); each run in a fresh world under a hard time limit."""
    runs = []
    for n in range(pairs):
        for metrics_on in (False, True) if n % 2 == 0 else (True, False):
            keep = work / f"run-{n}-{'on' if metrics_on else 'off'}"
            runs.append(_run(spec(events, rate, timeout, metrics_on), timeout, keep))
    return runs


def _run(run: RunSpec, timeout: float, keep: Path) -> WorkerRun:
    print(f"[bench.metrics] {run.label}: {run.events} events at {run.rate:g}/s …", file=sys.stderr)
    wait_for_quiet(30.0, tag="bench.metrics")
    with hard_limit(timeout):
        result = run_once(run, keep)
    served = all(SERVING in log.read_text(errors="replace") for log in keep.glob("worker-*.log"))
    metrics_on = bool(run.env)
    if served != metrics_on:
        raise BenchError(f"{run.label}: the workers {'did not serve' if metrics_on else 'served'} /metrics")
    done = result.to_done_ms or [0.0]
    figures = WorkerRun(
        metrics_on=metrics_on, events=run.events, succeeded=result.succeeded,
        events_per_s=result.events_per_s, second_half_per_s=result.second_half_per_s,
        cpu_ms_per_event=result.per_event(result.cpu_s.get("worker", 0.0)),
        p50_ms=statistics.median(done), p99_ms=_p99(done), other_load=result.other_load, served=served,
    )  # fmt: skip
    print(
        f"[bench.metrics] {run.label}: {figures.events_per_s:.1f} events/s,"
        f" {figures.succeeded}/{run.events} succeeded, worker {figures.cpu_ms_per_event:.1f} ms CPU/event",
        file=sys.stderr,
    )
    return figures


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
