"""Eduframe reads per event, counted by the Eduframe sandbox while real worker processes handle the events.

    .venv/bin/python -m bench.reads                       # four runs, ~1 min; writes bench/RESULTS.md
    .venv/bin/python -m bench.reads --learners 100 --no-write

Every run starts a fresh world: an embedded Redis, a SQLite ledger, the Eduframe, Penn Foster and
Appsembler sandboxes (in this process, over loopback), ``eduhook serve`` and ``--workers`` worker
processes, all stopped by PID at the end. The catalog starts cold in each run. Runs:

- ``enrollments``: N single-student purchases on one course, and only their ``enrollment.created``;
- ``purchase, route by course code``: one order of N students, its ``order.approved`` and then its N
  ``enrollment.created`` sent at once, as Eduframe sends them;
- ``purchase, route by catalog product``: the same, with the route matching the product, so each
  enrollment needs its order's variant;
- ``purchase, caches off``: the course-code purchase with ``EDUHOOK_EDUFRAME_CACHE_SECONDS=0`` and
  ``EDUHOOK_EDUFRAME_USER_CACHE_SECONDS=0``, for comparison.

Reads are the GETs the Eduframe sandbox answered, by path. The sandbox enforces Eduframe's
500-per-300 s window, and its 429 count is reported (0 unless N is large).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.harness import hard_limit
from bench.payloads import PATH, TENANT_ID, request_headers
from bench.pipeline_measure import attempt_counts, normalise, wait_settled
from bench.pipeline_snapshot import code_state
from bench.pipeline_world import CONFIG, EDUCATOR, PROGRAM, pipeline_env, wait_worker_ready
from bench.procs import REPO_ROOT, VENV_BIN, BenchError, Children, free_port, machine_info, wait_http_ok
from bench.reads_report import ReadsReport, render
from bench.results import add_output_options, publish
from bench.targets import redis_target
from eduhook.ledger import create_engine_for
from sandbox import appsembler, eduframe, pennfoster
from sandbox.eduframe.seed import EduframeSeed
from sandbox.server import serve_in_thread

COURSE_CODE = "BENCH-READS"
COURSE_KEY = "course-v1:edX+DemoX+Demo_Course"
CACHES_OFF = {"EDUHOOK_EDUFRAME_CACHE_SECONDS": "0", "EDUHOOK_EDUFRAME_USER_CACHE_SECONDS": "0"}


@dataclass(frozen=True)
class RunSpec:
    name: str
    purchase: bool  # one order of N and its enrollments; else N single-student enrollments only
    by_product: bool = False
    env: tuple[tuple[str, str], ...] = ()


@dataclass
class RunResult:
    spec: RunSpec
    learners: int
    events: int
    reads: Counter[str] = field(default_factory=Counter)  # "/orders/{id}" → GETs
    statuses: Counter[str] = field(default_factory=Counter)
    attempts: Counter[int] = field(default_factory=Counter)
    rejected: int = 0  # 429s the sandbox answered
    seconds: float = 0.0


RUNS = (
    RunSpec("enrollments", purchase=False),
    RunSpec("purchase, route by course code", purchase=True),
    RunSpec("purchase, route by catalog product", purchase=True, by_product=True),
    RunSpec("purchase, caches off", purchase=True, env=tuple(CACHES_OFF.items())),
)


@dataclass
class Purchase:
    """What the seed holds: the order (when one purchase) and the enrollment ids to announce."""

    seed: EduframeSeed
    order_id: int | None
    enrollments: list[int]
    product_id: int


def build_purchase(learners: int, *, one_order: bool) -> Purchase:
    seed = EduframeSeed()
    _, _, variant = seed.add_offering(code=COURSE_CODE, name="Reads benchmark course")
    students = [
        seed.add_user(
            first_name=("Ann", "José", "Li", "Omar")[n % 4],
            last_name=f"Reads{chr(65 + n % 26)}",
            email=f"reads.student{n}@example.com",
            phone=f"+1 (570) 555-{n % 10000:04d}",
            birth_date=f"199{n % 10}-0{1 + n % 9}-1{n % 10}",
            gender="F" if n % 2 else "M",
            address={
                "address": f"{n} Main Street",
                "postal_code": f"1850{n % 10}",
                "city": "Scranton",
                "country": "US",
                "state_province": "PA",
            },
        )
        for n in range(learners)
    ]
    if one_order:
        orders = [seed.add_order(students=students, variant_id=variant)]
    else:
        orders = [seed.add_order(students=[student], variant_id=variant) for student in students]
    enrollments = sorted(e for e, r in seed.records["enrollments"].items() if r["order_id"] in orders)
    product = int(seed.records["catalog_variants"][variant]["product_id"])
    return Purchase(seed, orders[0] if one_order else None, enrollments, product)


@dataclass
class World:
    eduframe: str
    receiver: str
    database_url: str


def serve_sandboxes(stack: contextlib.ExitStack, purchase: Purchase) -> dict[str, str]:
    apps = {
        "eduframe": eduframe.create_app(purchase.seed.to_dict()),
        "pennfoster": pennfoster.create_app(),
        "appsembler": appsembler.create_app(),
    }
    urls = {}
    for name, app in apps.items():
        server = serve_in_thread(app)
        stack.callback(server.stop)
        urls[name] = server.url
    return urls


def write_config(path: Path, urls: dict[str, str], spec: RunSpec, purchase: Purchase) -> None:
    config = CONFIG.format(
        **urls, course_code=COURSE_CODE, program=PROGRAM, course=COURSE_KEY, create_accounts="false"
    )
    if spec.by_product:
        matcher = f"catalog_product_id = {purchase.product_id}"
        config = config.replace(f'course_code = "{COURSE_CODE}"', matcher)
    path.write_text(config)


def start_eduhook(
    children: Children, env: dict[str, str], work: Path, workers: int, concurrency: int
) -> None:
    """``eduhook db upgrade``, then the receiver and the workers; returns once all are ready."""
    eduhook = str(VENV_BIN / "eduhook")
    upgrade = subprocess.run(
        [eduhook, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if upgrade.returncode != 0:
        raise BenchError(f"eduhook db upgrade failed: {upgrade.stderr or upgrade.stdout}")
    receiver = children.spawn("receiver", [eduhook, "serve", "--no-access-log"], env, work / "receiver.log")
    wait_http_ok(receiver, f"http://127.0.0.1:{env['EDUHOOK_PORT']}/readyz")
    command = [eduhook, "worker", "--pool", "threads", "--concurrency", str(concurrency)]
    for n in range(workers):
        wait_worker_ready(children.spawn(f"worker {n}", command, env, work / f"worker-{n}.log"))


@contextlib.contextmanager
def world(spec: RunSpec, purchase: Purchase, workers: int, concurrency: int) -> Iterator[World]:
    """Sandboxes, Redis, ledger, receiver and workers for one run; stopped by PID however it ends."""
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="eduhook-reads-")))
        redis = stack.enter_context(redis_target(work, None))
        urls = serve_sandboxes(stack, purchase)
        write_config(work / "eduhook.toml", urls, spec, purchase)
        database_url = f"sqlite:///{work / 'ledger.db'}"
        port = free_port()
        env = {**pipeline_env(work, work / "eduhook.toml", database_url, redis.url, port), **dict(spec.env)}
        children = Children()
        stack.callback(children.stop_all)
        start_eduhook(children, env, work, workers, concurrency)
        yield World(urls["eduframe"], f"http://127.0.0.1:{port}", database_url)


def send(client: httpx.Client, receiver: str, event: str, resource_id: int) -> None:
    body = {"tenant_id": TENANT_ID, "educator": EDUCATOR, "event": event, "event_data": {"id": resource_id}}
    answer = client.post(receiver + PATH, json=body, headers=request_headers())
    if answer.status_code not in (200, 202):
        raise BenchError(f"{event} {resource_id}: the receiver answered {answer.status_code}")


def announce(client: httpx.Client, receiver: str, purchase: Purchase) -> None:
    """The order's ``order.approved`` first, then every enrollment's, eight at a time."""
    if purchase.order_id is not None:
        send(client, receiver, "order.approved", purchase.order_id)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda e: send(client, receiver, "enrollment.created", e), purchase.enrollments))


def run_once(spec: RunSpec, learners: int, workers: int, concurrency: int, timeout: float) -> RunResult:
    purchase = build_purchase(learners, one_order=spec.purchase)
    events = len(purchase.enrollments) + (1 if purchase.order_id is not None else 0)
    result = RunResult(spec, learners, events)
    with (
        world(spec, purchase, workers, concurrency) as running,
        httpx.Client(timeout=30, trust_env=False) as client,
    ):
        engine = create_engine_for(running.database_url)
        started = time.monotonic()
        announce(client, running.receiver, purchase)
        result.statuses = wait_settled(engine, events, time.monotonic() + timeout)
        result.seconds = time.monotonic() - started
        result.attempts = attempt_counts(engine)
        engine.dispose()
        logged = client.get(running.eduframe + "/_sandbox/requests").json()
        result.reads = Counter(normalise(r["path"]) for r in logged if r["method"] == "GET")
        window = client.get(running.eduframe + "/_sandbox/eduframe/rate-limit").json()
        result.rejected = int(window["rejected"])
    if result.statuses["succeeded"] != events:
        raise BenchError(f"{spec.name}: events ended {dict(result.statuses)}")
    return result


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reads", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--learners", type=int, default=50, help="N: students per run (default 50)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--concurrency", type=int, default=8, help="threads per worker (default 8)")
    parser.add_argument("--timeout", type=float, default=180.0, help="hard limit per run, s (default 180)")
    add_output_options(parser, REPO_ROOT / "bench" / "RESULTS.md", snapshot=False)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    report = ReadsReport(
        command=" ".join(["python -m bench.reads", *argv]),
        when=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        machine={**machine_info(), "commit": code_state()},
        workers=args.workers, concurrency=args.concurrency,
    )  # fmt: skip
    for spec in RUNS:
        print(f"[reads] {spec.name} …", file=sys.stderr)
        try:
            with hard_limit(args.timeout + 60):
                report.runs.append(
                    run_once(spec, args.learners, args.workers, args.concurrency, args.timeout)
                )
        except BenchError as exc:
            print(f"[reads] {spec.name} failed: {exc}", file=sys.stderr)
            report.failed.append((spec.name, str(exc).splitlines()[0]))
    publish(render(report), args.results, write=not args.no_write, tag="reads", title="Eduframe reads")
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
