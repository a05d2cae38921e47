"""One measurement each: saturated throughput (wrk), fixed-rate latency, and webhook-to-worker delay."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.handlers import STARTED_KEY
from bench.openloop import OpenLoopResult, open_loop, run_open_loop
from bench.payloads import BodyTemplate
from bench.procs import BenchError, Child, cpu_seconds, machine_busy_seconds
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
class FixedRate:
    offered: float
    result: OpenLoopResult
    server_cpu_us: float
    generator_cpu_us: float
    machine_busy: float
    ok: int
    non_2xx: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    p50_from_send_ms: float
    p99_from_send_ms: float
    lag_p99_ms: float
    notes: list[str] = field(default_factory=list)

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
) -> FixedRate:
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
    answered = [s for s in result.samples if s.status]
    ok = [s for s in answered if 200 <= s.status < 300]
    latencies = [s.latency * 1000 for s in answered]
    from_send = [(s.latency - (s.sent - s.origin)) * 1000 for s in answered]
    lag_p99 = percentile(result.scheduler_lag, 0.99) * 1000
    notes = []
    if result.achieved_rate < 0.98 * rate:
        notes.append(f"generator started only {result.achieved_rate:.0f} req/s of {rate:.0f} offered")
    if lag_p99 > 5.0:
        notes.append(f"generator's own scheduling lag p99 {lag_p99:.1f} ms (machine busy?)")
    unanswered = len(result.samples) - len(answered)
    if unanswered:
        notes.append(f"{unanswered} requests got no answer: {result.errors}")
    return FixedRate(
        offered=rate,
        result=result,
        server_cpu_us=meter.per_request_us("server", len(result.samples)),
        generator_cpu_us=meter.per_request_us("generator", len(result.samples)),
        machine_busy=meter.busy_fraction,
        ok=len(ok),
        non_2xx=len(answered) - len(ok),
        p50_ms=percentile(latencies, 0.50),
        p99_ms=percentile(latencies, 0.99),
        max_ms=max(latencies, default=0.0),
        p50_from_send_ms=percentile(from_send, 0.50),
        p99_from_send_ms=percentile(from_send, 0.99),
        lag_p99_ms=lag_p99,
        notes=notes,
    )


@dataclass
class ToWorker:
    load: FixedRate
    acked: int
    started: int
    p50_ms: float
    p99_ms: float
    max_ms: float


def wait_worker_ready(
    worker: Child, server: Server, redis: RedisTarget, template: BodyTemplate, seq: int
) -> None:
    """Send one event and wait (bounded) until the worker's handler has started it."""
    probe = fixed_rate(server, redis, template, rate=1, duration=1, first_seq=seq, read_event_ids=True)
    ids = [s.event_id for s in probe.result.samples if s.event_id]
    if not ids:
        raise BenchError(f"the probe webhook was not accepted: {probe.result.errors}")
    client = redis.client()
    try:
        deadline = time.monotonic() + 60
        while not client.hexists(STARTED_KEY, ids[0]):
            if not worker.alive() or time.monotonic() > deadline:
                raise BenchError(f"the worker did not start the probe event:\n{worker.log_tail()}")
            time.sleep(0.1)
    finally:
        client.close()


def _started_times(raw: dict[bytes | str, bytes | str]) -> dict[str, float]:
    return {(k.decode() if isinstance(k, bytes) else k): float(v) for k, v in raw.items()}


def to_worker(
    server: Server,
    redis: RedisTarget,
    worker: Child,
    template: BodyTemplate,
    *,
    rate: float,
    duration: float,
    first_seq: int,
    drain_timeout: float = 60.0,
) -> ToWorker:
    """Offer ``rate`` with a worker running; delay from each 2xx to the handler starting that event."""
    load = fixed_rate(
        server,
        redis,
        template,
        rate=rate,
        duration=duration,
        first_seq=first_seq,
        read_event_ids=True,
        extra_pids={"worker": worker.pid},
    )
    acked = {s.event_id: s.acked_wall for s in load.result.samples if s.event_id}
    client = redis.client()
    try:
        deadline = time.monotonic() + drain_timeout
        while True:
            started = _started_times(client.hgetall(STARTED_KEY))
            if all(i in started for i in acked) or time.monotonic() > deadline or not worker.alive():
                break
            time.sleep(0.2)
    finally:
        client.close()
    delays = [(started[i] - t) * 1000 for i, t in acked.items() if i in started]
    return ToWorker(
        load=load,
        acked=len(acked),
        started=len(delays),
        p50_ms=percentile(delays, 0.50),
        p99_ms=percentile(delays, 0.99),
        max_ms=max(delays, default=0.0),
    )
