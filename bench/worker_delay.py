"""The delay from a webhook's 2xx to a real worker's handler starting that event."""

from __future__ import annotations

import time
from dataclasses import dataclass

from bench.handlers import STARTED_KEY
from bench.payloads import BodyTemplate
from bench.phases import FixedRate, fixed_rate, percentile
from bench.procs import BenchError, Child
from bench.targets import RedisTarget, Server


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
    run = fixed_rate(
        server,
        redis,
        template,
        rate=rate,
        duration=duration,
        first_seq=first_seq,
        read_event_ids=True,
        extra_pids={"worker": worker.pid},
    )
    acked = {s.event_id: s.acked_wall for s in run.result.samples if s.event_id}
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
        load=FixedRate(rate, [run]),
        acked=len(acked),
        started=len(delays),
        p50_ms=percentile(delays, 0.50),
        p99_ms=percentile(delays, 0.99),
        max_ms=max(delays, default=0.0),
    )
