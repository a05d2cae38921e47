"""The replay run of bench.failures: 1,000 events made dead, Penn Foster back, ``eduhook replay --dead``."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import orjson

from bench import pipeline_measure as measure
from bench.openloop import open_loop, run_open_loop
from bench.pipeline_run import RunSpec, body_template, warm_up, world
from bench.pipeline_world import pipeline_env
from bench.procs import VENV_BIN, BenchError
from eduhook.ledger import create_engine_for
from eduhook.ledger.schema import DEAD, SUCCEEDED


@dataclass
class ReplayResult:
    spec: RunSpec
    replay_rate: float
    dead: int = 0  # events dead before the replay (warm-up left out)
    made_dead_s: float = 0.0
    queued: int = 0  # as ``eduhook replay --json`` reported
    command_s: float = 0.0  # the replay command, start to exit
    window_s: float = 0.0  # replay started → last event succeeded
    statuses: Counter[str] = field(default_factory=Counter)
    calls: dict[str, Counter[str]] = field(default_factory=dict)  # during the replay only
    learners: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        return self.statuses[SUCCEEDED] / self.window_s if self.window_s else 0.0


def run_replay(spec: RunSpec, replay_rate: float) -> ReplayResult:
    """``spec`` must make every Penn Foster call fail with one attempt (see bench.failures)."""
    result = ReplayResult(spec, replay_rate)
    with world(spec) as running:
        pipeline = running.pipeline
        engine = create_engine_for(pipeline.database_url)
        client = httpx.Client(timeout=30.0, trust_env=False)
        urls = pipeline.sandboxes.urls
        try:
            warmup, *loaded = pipeline.sandboxes.enrollments
            warm_up(client, pipeline, warmup[0], engine)
            measure.add_faults(client, urls["pennfoster"], spec.penn_foster_faults)
            started = time.monotonic()
            open_loop(
                run_open_loop(
                    "127.0.0.1", pipeline.receiver_port, body_template(), rate=spec.rate,
                    duration=spec.events / spec.rate, first_seq=loaded[0][0],
                )
            )  # fmt: skip
            counts = measure.wait_settled(
                engine, spec.events + 1, started + spec.drain_timeout, final=spec.final
            )
            result.made_dead_s = time.monotonic() - started
            result.dead = counts[DEAD]
            if result.dead != spec.events:
                raise BenchError(f"expected {spec.events} dead events before the replay, got {dict(counts)}")

            client.delete(urls["pennfoster"] + "/_sandbox/faults").raise_for_status()  # Penn Foster is back
            for url in urls.values():
                measure.clear_requests(client, url)
            config = running.work / "eduhook.toml"
            env = {
                **pipeline_env(running.work, config, pipeline.database_url, pipeline.redis_url, 0),
                **dict(spec.env),
            }
            command = [str(VENV_BIN / "eduhook"), "replay", "--dead", "--reason", "bench", "--yes",
                       "--rate", f"{replay_rate:g}", "--json"]  # fmt: skip
            t0 = time.time()
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
            result.command_s = time.time() - t0
            if done.returncode != 0:
                raise BenchError(f"eduhook replay exited {done.returncode}: {done.stderr[-500:]}")
            result.queued = int(orjson.loads(done.stdout)["queued"])
            deadline = time.monotonic() + spec.drain_timeout
            result.statuses = measure.wait_settled(engine, spec.events + 1, deadline, final=(SUCCEEDED,))
            result.statuses[SUCCEEDED] -= 1  # the warm-up event
            finished = [
                row.updated_at
                for row in measure.events_by_resource(engine).values()
                if row.status == SUCCEEDED
            ]
            result.window_s = max(finished) - t0 if finished else 0.0
            result.calls = {name: measure.partner_calls(client, url) for name, url in urls.items()}
            result.learners = measure.pennfoster_learners(client, urls["pennfoster"])
        finally:
            client.close()
            engine.dispose()
        for child in [pipeline.receiver, *pipeline.workers, *filter(None, [pipeline.beat])]:
            if not child.alive():
                result.notes.append(f"**{child.name} exited during the run** ({child.process.returncode})")
    return result
