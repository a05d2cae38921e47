"""One benchmark run: every server up at once, measured in interleaved rounds, then with a worker.

The machine is shared and small (2 cores), so one 10-second window can be slowed by unrelated
work. Each round therefore measures every target back to back (rotating the order), after waiting
(bounded) for the machine to be quiet; figures are the median over rounds (throughput) or pooled
over rounds (latency percentiles), and the per-round spread is reported next to them.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import phases, worker_delay
from bench.payloads import BodyTemplate, body_template
from bench.procs import BenchError, Children, machine_busy_seconds
from bench.report import TargetResult
from bench.targets import (
    RedisTarget,
    Server,
    postgres_database,
    postgres_reachable,
    start_bare,
    start_receiver,
    start_worker,
)

LABELS = {"bare": "bare Starlette", "sqlite": "receiver, SQLite", "postgres": "receiver, PostgreSQL"}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


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
        log(f"machine {load:.0%} busy with other work; waiting")
        load = background_load(2.0)
    return load


@contextlib.contextmanager
def ledger_url(backend: str, work: Path, postgres_admin: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{work / 'ledger.db'}"
    elif backend == "postgres":
        with postgres_database(postgres_admin) as url:
            yield url
    else:
        raise BenchError(f"unknown target {backend!r} (bare, sqlite, postgres)")


@dataclass
class Target:
    key: str
    result: TargetResult
    server: Server | None = None


class Run:
    """Starts the targets, then measures them; every process is stopped by ``children``."""

    def __init__(self, args: argparse.Namespace, work: Path, redis: RedisTarget, children: Children) -> None:
        self.args = args
        self.work = work
        self.redis = redis
        self.children = children
        self.template: BodyTemplate = body_template(uuid.uuid4().hex[:10])
        self._seq = itertools.count(1)
        self.round_loads: list[float] = []

    def next_seq(self) -> int:
        return next(self._seq) * 10**11

    def start(self, keys: list[str], stack: contextlib.ExitStack) -> list[Target]:
        """Start every wanted server (a skipped PostgreSQL is reported, not fatal)."""
        targets = [
            Target(key, TargetResult(LABELS[key], rate=phases.FixedRate(self.args.rate))) for key in keys
        ]
        urls: dict[str, str] = {}
        for target in targets:
            if target.key == "postgres" and (why := postgres_reachable(self.args.postgres_url)):
                target.result.skipped = why
            elif target.key != "bare":
                urls[target.key] = stack.enter_context(
                    ledger_url(target.key, self.work, self.args.postgres_url)
                )
        stack.callback(self.children.stop_all)  # runs before the databases are dropped
        for target in targets:
            if target.key == "bare":
                target.server = start_bare(self.children, self.work)
            elif target.key in urls:
                target.server = start_receiver(
                    self.children, self.work, target.key, urls[target.key], self.redis.url
                )
        return [t for t in targets if t.server is not None or t.result.skipped]

    def _saturate(self, server: Server, duration: float) -> phases.Saturated:
        a = self.args
        result = phases.saturate(
            server, self.redis, self.template, self.work, first_seq=self.next_seq(),
            connections=a.connections, threads=a.wrk_threads, duration=duration,
        )  # fmt: skip
        self.redis.clear()
        return result

    def measure(self, targets: list[Target]) -> None:
        live = [t for t in targets if t.server is not None]
        a = self.args
        for target in live:
            assert target.server is not None
            log(f"{target.result.name}: warm-up {a.warmup:.0f} s")
            self._saturate(target.server, a.warmup)
        for number in range(a.rounds):
            self.round_loads.append(wait_for_quiet(min(a.quiet_wait, 60.0)))
            order = live[number % len(live) :] + live[: number % len(live)]
            for target in order:
                assert target.server is not None
                log(f"round {number + 1}/{a.rounds}: {target.result.name}, wrk {a.duration:.0f} s")
                target.result.saturated.rounds.append(self._saturate(target.server, a.duration))
            for target in order:
                assert target.server is not None
                log(f"round {number + 1}/{a.rounds}: {target.result.name}, {a.rate:.0f} req/s open loop")
                run = phases.fixed_rate(
                    target.server, self.redis, self.template,
                    rate=a.rate, duration=a.rate_duration, first_seq=self.next_seq(),
                )  # fmt: skip
                target.result.rate.runs.append(run)
                self.redis.clear()
        if not a.no_worker:
            for target in live:
                if target.key != "bare" and target.server is not None:
                    target.result.worker = self.to_worker(target.server, target.result.name)

    def to_worker(self, server: Server, name: str) -> worker_delay.ToWorker:
        a = self.args
        wait_for_quiet(min(a.quiet_wait, 60.0))
        log(f"{name}: worker running, {a.worker_rate:.0f} req/s for {a.rate_duration:.0f} s")
        worker = start_worker(self.children, self.work, server, self.redis.url)
        try:
            worker_delay.wait_worker_ready(worker, server, self.redis, self.template, self.next_seq())
            return worker_delay.to_worker(
                server, self.redis, worker, self.template,
                rate=a.worker_rate, duration=a.rate_duration, first_seq=self.next_seq(),
            )  # fmt: skip
        finally:
            worker.stop()
            self.redis.clear()
