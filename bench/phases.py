"""The measurements: saturated throughput (wrk) and fixed-rate latency, each with the CPU it cost."""

from __future__ import annotations

import os
import resource
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.openloop import OpenLoopResult, Sample, open_loop, run_open_loop
from bench.payloads import BodyTemplate
from bench.procs import BenchError, cpu_seconds, machine_busy_seconds
from bench.targets import RedisTarget, Server
from bench.wrkrun import WrkResult, run_wrk, write_script


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(fraction * len(ordered) + 0.5)))
    return ordered[rank - 1]


class CpuMeter:
    """CPU seconds used by named processes (and the whole machine) between start and stop."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.used: dict[str, float] = {}
        self.wall = 0.0
        self.machine_busy = 0.0
        self.machine_total = 0.0

    def __enter__(self) -> CpuMeter:
        self._before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._self = os.times()
        self._children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._machine = machine_busy_seconds()
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        for name, pid in self.pids.items():
            self.used[name] = cpu_seconds(pid) - self._before[name]
        now = os.times()
        self.used["generator"] = (now.user + now.system) - (self._self.user + self._self.system)
        # wrk is the only child that exits (and is reaped) inside the meter.
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.used["generator"] += (children.ru_utime + children.ru_stime) - (
            self._children.ru_utime + self._children.ru_stime
        )
        busy, total = machine_busy_seconds()
        self.machine_busy = busy - self._machine[0]
        self.machine_total = total - self._machine[1]

    def per_request_us(self, name: str, requests: int) -> float:
        return self.used.get(name, 0.0) / requests * 1e6 if requests else 0.0

    @property
    def busy_fraction(self) -> float:
        return self.machine_busy / self.machine_total if self.machine_total else 0.0

    def other_us(self, requests: int) -> float:
        """Machine CPU not used by the measured processes (PostgreSQL, background load), per request."""
        ours = sum(self.used.values())
        return max(0.0, self.machine_busy - ours) / requests * 1e6 if requests else 0.0


@dataclass
class Saturated:
    wrk: WrkResult
    server_cpu_us: float
    generator_cpu_us: float
    redis_cpu_us: float | None
    other_cpu_us: float
    machine_busy: float
    ledger_rows_added: int | None


def _pids(server: Server, redis: RedisTarget, extra: dict[str, int] | None = None) -> dict[str, int]:
    pids = {"server": server.child.pid, **(extra or {})}
    if redis.pid is not None and server.database_url is not None:
        pids["redis"] = redis.pid
    return pids


def saturate(
    server: Server,
    redis: RedisTarget,
    template: BodyTemplate,
    work: Path,
    *,
    first_seq: int,
    connections: int,
    threads: int,
    duration: float,
) -> Saturated:
    script = write_script(work, template, first_seq)
    rows_before = server.ledger_rows() if server.database_url else None
    with CpuMeter(_pids(server, redis)) as meter:
        result = run_wrk(server.url, script, connections=connections, threads=threads, duration=duration)
    if not server.child.alive():
        raise BenchError(f"{server.name} died during the saturated run:\n{server.child.log_tail()}")
    rows_added = server.ledger_rows() - rows_before if rows_before is not None else None
    requests = result.requests
    return Saturated(
        wrk=result,
        server_cpu_us=meter.per_request_us("server", requests),
        generator_cpu_us=meter.per_request_us("generator", requests),
        redis_cpu_us=meter.per_request_us("redis", requests) if "redis" in meter.used else None,
        other_cpu_us=meter.other_us(requests),
        machine_busy=meter.busy_fraction,
        ledger_rows_added=rows_added,
    )


@dataclass
class SaturatedRounds:
    """The saturated runs of one target, one per round, and what they add up to."""

    rounds: list[Saturated] = field(default_factory=list)

    def _weighted(self, value: str) -> float:
        requests = sum(r.wrk.requests for r in self.rounds)
        total = sum(getattr(r, value) * r.wrk.requests for r in self.rounds)
        return total / requests if requests else 0.0

    @property
    def rps(self) -> list[float]:
        return [r.wrk.requests_per_sec for r in self.rounds]

    @property
    def median_rps(self) -> float:
        return statistics.median(self.rps) if self.rounds else 0.0

    @property
    def server_cpu_us(self) -> float:
        return self._weighted("server_cpu_us")

    def total(self, field_name: str) -> int:
        return sum(int(getattr(r.wrk, field_name)) for r in self.rounds)


@dataclass
class RateRun:
    """One open-loop run and the CPU seconds the measured processes used during it."""

    result: OpenLoopResult
    cpu: dict[str, float]
    machine_busy: float


@dataclass
class FixedRate:
    """Every open-loop run of one target at one rate, pooled: percentiles over all their requests."""

    offered: float
    runs: list[RateRun] = field(default_factory=list)

    @property
    def samples(self) -> list[Sample]:
        return [s for run in self.runs for s in run.result.samples]

    def _answered(self) -> list[Sample]:
        return [s for s in self.samples if s.status]

    def latency_ms(self, fraction: float) -> float:
        return percentile([s.latency * 1000 for s in self._answered()], fraction)

    def from_send_ms(self, fraction: float) -> float:
        return percentile([(s.latency - (s.sent - s.origin)) * 1000 for s in self._answered()], fraction)

    @property
    def max_ms(self) -> float:
        return max((s.latency * 1000 for s in self._answered()), default=0.0)

    @property
    def p99_per_run(self) -> list[float]:
        return [percentile([s.latency * 1000 for s in r.result.samples if s.status], 0.99) for r in self.runs]

    @property
    def ok(self) -> int:
        return sum(1 for s in self.samples if 200 <= s.status < 300)

    @property
    def non_2xx(self) -> int:
        return sum(1 for s in self.samples if s.status and not 200 <= s.status < 300)

    @property
    def achieved_rates(self) -> list[float]:
        return [r.result.achieved_rate for r in self.runs]

    @property
    def lag_p99_ms(self) -> float:
        return percentile([lag * 1000 for r in self.runs for lag in r.result.scheduler_lag], 0.99)

    @property
    def connections(self) -> int:
        return max((r.result.connections_opened for r in self.runs), default=0)

    def cpu_us(self, name: str) -> float:
        requests = len(self.samples)
        return sum(r.cpu.get(name, 0.0) for r in self.runs) / requests * 1e6 if requests else 0.0

    @property
    def machine_busy(self) -> float:
        return statistics.mean(r.machine_busy for r in self.runs) if self.runs else 0.0

    @property
    def notes(self) -> list[str]:
        notes = []
        for rate in self.achieved_rates:
            if rate < 0.98 * self.offered:
                notes.append(f"generator started only {rate:.0f} req/s of {self.offered:.0f} offered")
        if self.lag_p99_ms > 5.0:
            notes.append(f"generator's own scheduling lag p99 {self.lag_p99_ms:.1f} ms (machine busy?)")
        unanswered = sum(1 for s in self.samples if not s.status)
        if unanswered:
            errors: dict[str, int] = {}
            for r in self.runs:
                for name, count in r.result.errors.items():
                    errors[name] = errors.get(name, 0) + count
            notes.append(f"{unanswered} requests got no answer: {errors}")
        return notes

    @property
    def kept_rate(self) -> bool:
        return not self.notes


def fixed_rate(
    server: Server,
    redis: RedisTarget,
    template: BodyTemplate,
    *,
    rate: float,
    duration: float,
    first_seq: int,
    read_event_ids: bool = False,
    extra_pids: dict[str, int] | None = None,
) -> RateRun:
    with CpuMeter(_pids(server, redis, extra_pids)) as meter:
        result = open_loop(
            run_open_loop(
                "127.0.0.1",
                server.port,
                template,
                rate=rate,
                duration=duration,
                first_seq=first_seq,
                read_event_ids=read_event_ids,
            )
        )
    return RateRun(result, dict(meter.used), meter.busy_fraction)
