"""One pipeline run: a fresh world, a warm-up event, N webhooks at a fixed rate, then the figures."""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy.engine import Engine

from bench import pipeline_measure as measure
from bench.openloop import OpenLoopResult, open_loop, run_open_loop
from bench.payloads import PATH, TENANT_ID, BodyTemplate, request_headers
from bench.pipeline_profile import start_profiler, summarise
from bench.pipeline_world import EDUCATOR, PROGRAM, Pipeline, start_pipeline, start_sandboxes
from bench.procs import BenchError, Child, Children, cpu_seconds, machine_busy_seconds
from bench.targets import postgres_database, redis_target
from eduhook.ledger import create_engine_for
from eduhook.ledger.schema import FINAL_STATUSES
from handlers.mapping.ids import alternate_id

ADMIN_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def shape_label(workers: int, pool: str, concurrency: int) -> str:
    return f"{f'{workers} x ' if workers > 1 else ''}{pool} -c {concurrency}"


@dataclass(frozen=True)
class RunSpec:
    events: int
    rate: float
    latency: float
    concurrency: int
    create_accounts: bool
    database: str  # "sqlite" or "postgres"
    pool: str = "threads"
    worker_processes: int = 1
    drain_timeout: float = 120.0  # after the last webhook, how long events may take to settle
    profile: bool = False  # py-spy the (first) worker while the webhooks are sent
    # Failure runs (bench.failures): Penn Foster faults set after the warm-up, settings for every
    # eduhook process (retry delays), and ``eduhook beat`` so failed events are retried.
    name: str = ""
    penn_foster_faults: tuple[dict[str, Any], ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    beat: bool = False

    @property
    def final(self) -> tuple[str, ...]:
        """The statuses an event ends in: with retries on, ``failed`` is only a wait."""
        return FINAL_STATUSES if self.beat else measure.SETTLED

    @property
    def shape(self) -> str:
        return shape_label(self.worker_processes, self.pool, self.concurrency)

    @property
    def accounts(self) -> str:
        return "create_accounts" if self.create_accounts else "no accounts"

    @property
    def label(self) -> str:
        return self.name or f"{self.database}, {self.shape}, {self.accounts}"


@dataclass
class RunResult:
    spec: RunSpec
    sent: int = 0
    acked: int = 0
    send_rate: float = 0.0
    ack_errors: dict[str, int] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    events_per_s: float = 0.0
    second_half_per_s: float = 0.0
    window_s: float = 0.0
    to_arrival_ms: list[float] = field(default_factory=list)  # webhook sent → Penn Foster got the POST
    to_done_ms: list[float] = field(default_factory=list)  # webhook sent → effect done in the ledger
    calls: dict[str, Counter[str]] = field(default_factory=dict)  # partner → "METHOD path" → count
    warmup_calls: dict[str, Counter[str]] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # process → CPU seconds over the run
    machine_busy: float = 0.0
    other_load: float = 0.0  # cores' worth of CPU used by processes outside this run
    profile: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    learners: list[str] = field(default_factory=list)  # alternate ids in Penn Foster's state
    learner_statuses: Counter[int] = field(default_factory=Counter)  # HTTP status → POST /learners
    attempts: Counter[int] = field(default_factory=Counter)  # attempts → events (warm-up left out)

    @property
    def succeeded(self) -> int:
        return self.statuses["succeeded"]

    def per_event(self, seconds: float) -> float:
        return seconds * 1000 / self.spec.events


def body_template() -> BodyTemplate:
    """``enrollment.created`` with ``event_data.id`` = the sequence number (an enrollment id)."""
    head = {"tenant_id": TENANT_ID, "educator": EDUCATOR, "event": "enrollment.created", "event_data": {}}
    prefix = orjson.dumps(head)[: -len(b"{}}")] + b'{"id":'
    return BodyTemplate((prefix, b"}}"))


@contextlib.contextmanager
def database(spec: RunSpec, work: Path) -> Iterator[str]:
    if spec.database == "postgres":
        with postgres_database(ADMIN_POSTGRES) as url:
            yield url
    else:
        yield f"sqlite:///{work / 'ledger.db'}"


@dataclass
class World:
    pipeline: Pipeline
    redis_pid: int | None
    children: Children
    work: Path


@contextlib.contextmanager
def world(spec: RunSpec, keep: Path | None = None) -> Iterator[World]:
    """Everything ``spec`` needs, running; stopped (by PID) and removed however the block ends."""
    with contextlib.ExitStack() as stack:
        work = keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="eduhook-pipeline-")))
        work.mkdir(parents=True, exist_ok=True)
        redis = stack.enter_context(redis_target(work, None))
        database_url = stack.enter_context(database(spec, work))
        children = Children()
        stack.callback(children.stop_all)
        sandboxes = start_sandboxes(children, work, students=spec.events + 1, latency=spec.latency)
        pipeline = start_pipeline(
            children, work, sandboxes, database_url=database_url, redis_url=redis.url,
            create_accounts=spec.create_accounts, pool=spec.pool, concurrency=spec.concurrency,
            worker_processes=spec.worker_processes, extra_env=dict(spec.env), beat=spec.beat,
        )  # fmt: skip
        yield World(pipeline, redis.pid, children, work)


def run_once(spec: RunSpec, keep: Path | None = None) -> RunResult:
    """Start everything for ``spec``, measure, stop everything (by PID) however it ends."""
    with world(spec, keep) as running:
        profiler = Profiler(running.children, running.work) if spec.profile else None
        return _measure(spec, running.pipeline, running.redis_pid, profiler)
    raise AssertionError("unreachable")  # mypy: the context manager may swallow exceptions


@dataclass
class Profiler:
    children: Children
    work: Path
    child: Child | None = None

    @property
    def output(self) -> Path:
        return self.work / "worker-profile.txt"

    def start(self, pid: int, duration: float) -> None:
        self.child = start_profiler(self.children, pid, self.output, duration)

    def finish(self) -> list[str]:
        if self.child is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.child.process.wait(30)
            self.child.stop()
        return summarise(self.output).lines()


def _measure(
    spec: RunSpec, pipeline: Pipeline, redis_pid: int | None, profiler: Profiler | None
) -> RunResult:
    result = RunResult(spec)
    engine = create_engine_for(pipeline.database_url)
    client = httpx.Client(timeout=30.0, trust_env=False)
    urls = pipeline.sandboxes.urls
    try:
        warmup, *loaded = pipeline.sandboxes.enrollments
        if [e for e, _ in loaded] != list(range(loaded[0][0], loaded[0][0] + spec.events)):
            raise BenchError("seeded enrollment ids are not consecutive")
        warm_up(client, pipeline, warmup[0], engine)
        result.warmup_calls = {name: measure.partner_calls(client, url) for name, url in urls.items()}
        for url in urls.values():
            measure.clear_requests(client, url)
        measure.add_faults(client, urls["pennfoster"], spec.penn_foster_faults)

        pids = {
            "worker": [w.pid for w in pipeline.workers],
            "receiver": [pipeline.receiver.pid],
            "sandboxes": [pipeline.sandboxes.child.pid],
            "redis": [redis_pid] if redis_pid else [],
            **({"beat": [pipeline.beat.pid]} if pipeline.beat else {}),
        }
        database = pipeline.database_url.rsplit("/", 1)[1] if spec.database == "postgres" else None
        cpu_before = _cpu(pids)
        backends_before = measure.backend_cpu(database) if database else {}
        busy_before, total_before = machine_busy_seconds()
        wall_offset = time.time() - time.perf_counter()
        if profiler is not None:
            profiler.start(pipeline.workers[0].pid, spec.events / spec.rate)
        load = open_loop(
            run_open_loop(
                "127.0.0.1", pipeline.receiver_port, body_template(), rate=spec.rate,
                duration=spec.events / spec.rate, first_seq=loaded[0][0], read_event_ids=True,
            )
        )  # fmt: skip
        deadline = time.monotonic() + spec.drain_timeout
        result.statuses = measure.wait_settled(engine, spec.events + 1, deadline, final=spec.final)
        busy_after, total_after = machine_busy_seconds()
        result.cpu_s = {name: seconds - cpu_before[name] for name, seconds in _cpu(pids).items()}
        if database:
            after = measure.backend_cpu(database)
            result.cpu_s["postgres"] = sum(cpu - backends_before.get(pid, 0.0) for pid, cpu in after.items())
        result.machine_busy = (busy_after - busy_before) / max(total_after - total_before, 1e-9)
        # Whatever else ran on the machine meanwhile (other benchmarks, tests): it skews the figures.
        elapsed = max((total_after - total_before) / (os.cpu_count() or 1), 1e-9)
        outside = busy_after - busy_before - sum(result.cpu_s.values())
        result.other_load = max(0.0, outside) / elapsed
        result.statuses["succeeded"] -= 1  # the warm-up event
        if profiler is not None:
            result.profile = profiler.finish()
        result.calls = {name: measure.partner_calls(client, url) for name, url in urls.items()}
        result.learners = measure.pennfoster_learners(client, urls["pennfoster"])
        result.learner_statuses = measure.learner_statuses(client, urls["pennfoster"])
        result.attempts = measure.attempt_counts(engine)
        result.attempts[1] -= 1  # the warm-up event
        _figures(result, load, wall_offset, engine, client, pipeline, dict(loaded))
    finally:
        client.close()
        engine.dispose()
    for child in [
        pipeline.receiver,
        pipeline.sandboxes.child,
        *pipeline.workers,
        *filter(None, [pipeline.beat]),
    ]:
        if not child.alive():
            tail = " ".join(child.log_tail(400).split())
            result.notes.append(
                f"**{child.name} exited during the run** ({child.process.returncode}): {tail}"
            )
    return result


def _cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU seconds per role; the benchmark process alone (its children are the other roles)."""
    seconds = {name: sum(measure.tree_cpu(p) for p in ps) for name, ps in pids.items()}
    seconds["bench"] = cpu_seconds(os.getpid())
    return seconds


def warm_up(client: httpx.Client, pipeline: Pipeline, enrollment_id: int, engine: Engine) -> None:
    """One event first, so the run measures warm caches and a cached Penn Foster token."""
    url = f"http://127.0.0.1:{pipeline.receiver_port}{PATH}"
    answer = client.post(url, content=body_template().render(enrollment_id), headers=request_headers())
    if answer.status_code != 202:
        raise BenchError(f"warm-up webhook answered {answer.status_code}: {answer.text[:200]}")
    counts = measure.wait_settled(engine, 1, time.monotonic() + 60)
    if counts["succeeded"] != 1:
        logs = "\n".join(w.log_tail(1500) for w in pipeline.workers)
        raise BenchError(f"warm-up event did not succeed ({dict(counts)}):\n{logs}")


def _figures(
    result: RunResult,
    load: OpenLoopResult,
    wall_offset: float,
    engine: Engine,
    client: httpx.Client,
    pipeline: Pipeline,
    student_of: dict[int, int],
) -> None:
    spec = result.spec
    acked = sum(1 for s in load.samples if 200 <= s.status < 300)
    result.sent, result.acked, result.send_rate = len(load.samples), acked, load.achieved_rate
    result.ack_errors = dict(load.errors)
    non_2xx = sum(1 for s in load.samples if s.status and not 200 <= s.status < 300)
    if non_2xx:
        result.ack_errors["non-2xx"] = non_2xx
    by_enrollment = measure.events_by_resource(engine)
    learners = measure.effect_rows(engine, partner="pennfoster", action="learner")
    arrivals = measure.learner_arrivals(client, pipeline.sandboxes.pennfoster)
    first_sent = min((s.sent for s in load.samples if s.sent), default=0.0) + wall_offset
    finished: list[float] = []
    for seq, sample in zip(range(min(student_of), min(student_of) + spec.events), load.samples, strict=True):
        row = by_enrollment.get(seq)
        if row is None or row.status != "succeeded" or not sample.sent:
            continue
        if sample.event_id is not None and sample.event_id != row.id:
            result.notes.append(
                f"enrollment {seq}: the receiver answered event {sample.event_id}, not {row.id}"
            )
        finished.append(row.updated_at)
        sent = sample.sent + wall_offset
        student = student_of[seq]
        effect = learners.get(str(student))
        if effect is not None and effect.state == "done" and effect.event_id == row.id:
            result.to_done_ms.append((effect.updated_at - sent) * 1000)
        arrived = arrivals.get(alternate_id(EDUCATOR, student))
        if arrived is not None:
            result.to_arrival_ms.append((arrived - sent) * 1000)
    if finished:
        last = max(finished)
        result.window_s = last - first_sent
        result.events_per_s = len(finished) / result.window_s
        middle = first_sent + result.window_s / 2
        result.second_half_per_s = sum(1 for f in finished if f >= middle) / (last - middle)
    if len(result.to_done_ms) != result.succeeded:
        result.notes.append(
            f"{result.succeeded - len(result.to_done_ms)} succeeded events without their own done learner"
            f" effect for program {PROGRAM}"
        )
