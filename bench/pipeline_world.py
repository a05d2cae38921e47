"""The pipeline benchmark's world: sandboxes process, config TOML, receiver and worker, by PID."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bench.payloads import TOKEN
from bench.pipeline_sandboxes import COURSE_CODE
from bench.procs import VENV_BIN, BenchError, Child, Children, base_env, free_port, wait_http_ok

EDUCATOR = "bench-educator"
PROGRAM = "NUR01105"
COURSE_KEY = "course-v1:edX+DemoX+Demo_Course"

CONFIG = """\
# Written by bench.pipeline: eduhook against the benchmark's sandboxes.
[eduframe]
api_url = "{eduframe}"
api_token = "eduframe-sandbox-token"
[penn_foster]
api_url = "{pennfoster}"
client_id = "eduhook-sandbox"
client_secret = "sandbox-client-secret"
api_key = "sandbox-api-key"
[appsembler]
api_url = "{appsembler}"
api_token = "sandbox-appsembler-token"

[[routes]]
name = "bench"
course_code = "{course_code}"
[routes.penn_foster]
program_id = "{program}"
organization_id = 141982
location_id = 244648
client_id = 329209
enrollment_type = "B2B"
contact_email_address = "enrollments@example.com"
[routes.appsembler]
course_ids = ["{course}"]
create_accounts = {create_accounts}
auto_enroll = true
"""


@dataclass
class Sandboxes:
    child: Child
    eduframe: str
    pennfoster: str
    appsembler: str
    enrollments: list[tuple[int, int]]  # (enrollment id, student id), ascending

    @property
    def urls(self) -> dict[str, str]:
        return {"eduframe": self.eduframe, "pennfoster": self.pennfoster, "appsembler": self.appsembler}


def start_sandboxes(
    children: Children, work: Path, *, students: int, latency: float, timeout: float = 120.0
) -> Sandboxes:
    """``python -m bench.pipeline_sandboxes`` as a child; returns once it wrote its ready file."""
    ready = work / "sandboxes-ready.json"
    ready.unlink(missing_ok=True)  # a kept directory may hold an earlier run's
    command = [
        sys.executable, "-m", "bench.pipeline_sandboxes",
        "--students", str(students), "--latency", str(latency), "--ready", str(ready),
    ]  # fmt: skip
    child = children.spawn("sandboxes", command, base_env(), work / "sandboxes.log")
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if not child.alive():
            raise BenchError(f"sandboxes exited with {child.process.returncode}:\n{child.log_tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"sandboxes not ready within {timeout:.0f}s:\n{child.log_tail()}")
        time.sleep(0.1)
    data: dict[str, Any] = orjson.loads(ready.read_bytes())
    pairs = [(int(e), int(s)) for e, s in data["enrollments"]]
    return Sandboxes(child, data["eduframe"], data["pennfoster"], data["appsembler"], pairs)


@dataclass
class Pipeline:
    sandboxes: Sandboxes
    receiver: Child
    receiver_port: int
    workers: list[Child]
    database_url: str
    redis_url: str
    beat: Child | None = None


def pipeline_env(work: Path, config: Path, database_url: str, redis_url: str, port: int) -> dict[str, str]:
    env = base_env()
    env.update(
        EDUHOOK_CONFIG=str(config),
        EDUHOOK_DATABASE_URL=database_url,
        EDUHOOK_REDIS_URL=redis_url,
        EDUHOOK_WEBHOOK_TOKENS=TOKEN,
        EDUHOOK_EDUCATORS=EDUCATOR,
        EDUHOOK_HANDLER_MODULES="handlers.builtin",
        EDUHOOK_DATA_DIR=str(work / "data"),
        EDUHOOK_PORT=str(port),
        # Throughput and failure handling are measured without protection: Eduframe's budget
        # (450 per 300 s by default) would be all they measured, and a breaker would hold back the
        # faults they inject. bench.protection measures protection, through ``extra_env``.
        EDUHOOK_LIMIT_EDUFRAME="off",
        EDUHOOK_BREAKER_ENABLED="false",
    )
    return env


def start_pipeline(
    children: Children,
    work: Path,
    sandboxes: Sandboxes,
    *,
    database_url: str,
    redis_url: str,
    create_accounts: bool,
    pool: str,
    concurrency: int,
    worker_processes: int,
    extra_env: Mapping[str, str] | None = None,
    beat: bool = False,
) -> Pipeline:
    """Config, ``eduhook db upgrade``, ``eduhook serve --no-access-log``, the worker(s) and, with
    ``beat``, ``eduhook beat`` (the scheduler that queues due retries); ``extra_env`` (retry
    settings, say) goes to every one of them."""
    config = work / "eduhook.toml"
    config.write_text(
        CONFIG.format(
            **sandboxes.urls, course_code=COURSE_CODE, program=PROGRAM, course=COURSE_KEY,
            create_accounts=str(create_accounts).lower(),
        )
    )  # fmt: skip
    port = free_port()
    env = {**pipeline_env(work, config, database_url, redis_url, port), **(extra_env or {})}
    eduhook = str(VENV_BIN / "eduhook")
    upgrade = subprocess.run([eduhook, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    if upgrade.returncode != 0:
        raise BenchError(f"eduhook db upgrade failed: {upgrade.stderr or upgrade.stdout}")
    receiver = children.spawn("receiver", [eduhook, "serve", "--no-access-log"], env, work / "receiver.log")
    wait_http_ok(receiver, f"http://127.0.0.1:{port}/readyz")
    command = [eduhook, "worker", "--pool", pool, "--concurrency", str(concurrency)]
    workers = [
        children.spawn(f"worker {n}", command, env, work / f"worker-{n}.log") for n in range(worker_processes)
    ]
    for worker in workers:
        wait_worker_ready(worker)
    scheduler = children.spawn("beat", [eduhook, "beat"], env, work / "beat.log") if beat else None
    return Pipeline(sandboxes, receiver, port, workers, database_url, redis_url, scheduler)


def wait_worker_ready(worker: Child, timeout: float = 60.0) -> None:
    """Celery logs ``celery@host ready.`` once it consumes from the queue."""
    deadline = time.monotonic() + timeout
    while " ready." not in worker.log_tail(100_000):
        if not worker.alive():
            raise BenchError(f"{worker.name} exited with {worker.process.returncode}:\n{worker.log_tail()}")
        if time.monotonic() > deadline:
            raise BenchError(f"{worker.name} not ready within {timeout:.0f}s:\n{worker.log_tail()}")
        time.sleep(0.1)
