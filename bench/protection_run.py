"""One protection scenario run: a fresh world, a warm-up event, the webhooks, then the figures.

Burst: the Eduframe sandbox's window is set after the warm-up, and every webhook is sent at once.
Outage: Penn Foster answers 503 to every call from the first webhook for ``outage`` seconds, while
the webhooks arrive at ``rate``. A timer ends the outage and notes the Penn Foster calls by then.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench import pipeline_measure as measure
from bench.openloop import open_loop, run_open_loop
from bench.pipeline import DEFAULT_CONCURRENCY, DEFAULT_WORKERS
from bench.pipeline_run import RunSpec, body_template, warm_up, world
from bench.procs import BenchError
from eduhook.ledger.schema import FINAL_STATUSES, attempts, events

RATE_LIMIT = "/_sandbox/eduframe/rate-limit"
NEVER_ENDS = 10_000_000  # a fault's count that outlasts any run


@dataclass(frozen=True)
class Scenario:
    kind: str  # "burst" or "outage"
    protection: bool
    events: int
    rate: float  # webhooks/s offered
    window: tuple[int, int] | None  # the sandbox's Eduframe limit: requests per seconds; None: none
    outage: float  # seconds Penn Foster is down from the first webhook (outage runs)
    env: tuple[tuple[str, str], ...]
    drain_timeout: float
    latency: float = 0.05

    @property
    def label(self) -> str:
        return f"{self.kind}, protection {'on' if self.protection else 'off'}"


@dataclass
class ScenarioResult:
    scenario: Scenario
    statuses: Counter[str] = field(default_factory=Counter)
    sandbox_429: int | None = None  # the sandbox's own count; None when it enforces no window
    seen_429: int = 0  # attempts that ended on a 429
    attempts: int = 0  # attempts used by the events (deferrals are none)
    reads: int = 0  # Eduframe GETs
    drain_s: float = 0.0  # first webhook → last event final
    outage_calls: int = 0  # Penn Foster calls while it was down
    recovery_s: float = 0.0  # Penn Foster back → last event final
    duplicates: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def reads_per_event(self) -> float:
        return self.reads / self.scenario.events

    @property
    def floor_s(self) -> float | None:
        """The time the Eduframe limit needs for the reads made: reads ÷ rate."""
        if self.scenario.window is None:
            return None
        requests, seconds = self.scenario.window
        return self.reads / requests * seconds


def run_scenario(scenario: Scenario) -> ScenarioResult:
    spec = RunSpec(
        events=scenario.events, rate=scenario.rate, latency=scenario.latency, concurrency=DEFAULT_CONCURRENCY,
        create_accounts=False, database="sqlite", worker_processes=DEFAULT_WORKERS,
        drain_timeout=scenario.drain_timeout, name=scenario.label, env=scenario.env, beat=True,
    )  # fmt: skip
    result = ScenarioResult(scenario)
    with world(spec) as running:
        pipeline = running.pipeline
        engine = measure_engine(pipeline.database_url)
        client = httpx.Client(timeout=30.0, trust_env=False)
        urls = pipeline.sandboxes.urls
        try:
            warmup, *loaded = pipeline.sandboxes.enrollments
            warm_up(client, pipeline, warmup[0], engine)
            for url in urls.values():
                measure.clear_requests(client, url)
            window = {"requests": None} if scenario.window is None else dict(
                zip(("requests", "per_seconds"), scenario.window, strict=True)
            )  # fmt: skip
            enforced = client.post(urls["eduframe"] + RATE_LIMIT, json=window).status_code == 200
            if scenario.window and not enforced:
                result.notes.append("this Eduframe sandbox enforces no window (branch issue8-reads adds it)")
            outage = Outage(client, urls["pennfoster"], scenario.outage) if scenario.outage else None
            started = time.time()
            if outage:
                outage.start()
            load = open_loop(
                run_open_loop(
                    "127.0.0.1", pipeline.receiver_port, body_template(), rate=scenario.rate,
                    duration=scenario.events / scenario.rate, first_seq=loaded[0][0],
                )
            )  # fmt: skip
            if load.errors:
                result.notes.append(f"webhook errors: {dict(load.errors)}")
            deadline = time.monotonic() + scenario.drain_timeout
            result.statuses = measure.wait_settled(
                engine, scenario.events + 1, deadline, final=FINAL_STATUSES
            )
            result.statuses["succeeded"] -= 1  # the warm-up event
            if outage:
                outage.join()
                result.outage_calls = outage.calls
            last = last_final(engine)
            result.drain_s = last - started
            result.recovery_s = last - outage.ended if outage else 0.0
            if enforced:
                result.sandbox_429 = int(client.get(urls["eduframe"] + RATE_LIMIT).json()["rejected"])
            result.seen_429, result.attempts = attempt_figures(engine)
            result.reads = sum(
                n
                for call, n in measure.partner_calls(client, urls["eduframe"]).items()
                if call.startswith("GET")
            )
            learners = measure.pennfoster_learners(client, urls["pennfoster"])
            result.duplicates = len(learners) - len(set(learners))
        finally:
            client.close()
            engine.dispose()
    return result


def measure_engine(url: str) -> Engine:
    from eduhook.ledger import create_engine_for

    return create_engine_for(url)


class Outage(threading.Thread):
    """Penn Foster answers 503 to everything for ``seconds``; then it is back."""

    def __init__(self, client: httpx.Client, url: str, seconds: float) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.seconds = seconds
        self.calls = 0
        self.ended = 0.0
        measure.add_faults(client, url, [{"kind": "status", "status": 503, "count": NEVER_ENDS, "path": "/"}])

    def run(self) -> None:
        time.sleep(self.seconds)  # the outage's length, by design
        with httpx.Client(timeout=30.0, trust_env=False) as client:
            self.calls = sum(measure.partner_calls(client, self.url).values())
            if client.delete(self.url + "/_sandbox/faults").status_code != 200:
                raise BenchError("could not end the Penn Foster outage")
            self.ended = time.time()


def last_final(engine: Engine) -> float:
    """When the last event reached its final status (wall time)."""
    with engine.connect() as conn:
        moment = conn.execute(
            sa.select(sa.func.max(events.c.updated_at)).where(events.c.status.in_(FINAL_STATUSES))
        ).scalar()
    return float(moment.timestamp()) if moment is not None else time.time()


def attempt_figures(engine: Engine) -> tuple[int, int]:
    """Attempts that ended on a 429, and all attempts, the warm-up event's one left out."""
    with engine.connect() as conn:
        seen_429 = conn.execute(sa.select(sa.func.count()).where(attempts.c.http_status == 429)).scalar()
        total = conn.execute(sa.select(sa.func.count()).select_from(attempts)).scalar()
    return int(seen_429 or 0), int(total or 0) - 1
