"""Partner protection end to end: real workers, beat and Redis against the sandboxes over loopback.

The Eduframe sandbox enforces its per-token window through ``/_sandbox/eduframe/rate-limit``
(built on branch issue8-reads); where that route is missing, the burst still shows the shared
budget at work, and the assertion on the sandbox's own count of 429s waits for it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx

from eduhook.ledger import EventLedger, create_engine_for
from eduhook.settings import Settings
from tests.conftest import FAST_RETRIES, wait_until
from tests.handlers.conftest import World
from tests.handlers.test_e2e import webhook
from tests.handlers.test_failures import fault, learners_at_pennfoster

StartProcess = Callable[..., subprocess.Popen[bytes]]
RATE_LIMIT = "/_sandbox/eduframe/rate-limit"


def sandbox_limit(world: World, limit: dict[str, int | None]) -> bool:
    """Set the Eduframe sandbox's window; False if this sandbox has no rate limit to set."""
    answer = httpx.post(world.eduframe + RATE_LIMIT, json=limit)
    assert answer.status_code in (200, 404), answer.text
    return answer.status_code == 200


def workers_ready(settings: Settings, count: int) -> None:
    def ready() -> bool:
        logs = [settings.data_dir / f"worker-{n}.log" for n in range(count)]
        return all(log.exists() and " ready." in log.read_text() for log in logs)

    wait_until(ready, 60, what=f"{count} workers to be ready")


def settle(settings: Settings, ids: list[str], timeout: float) -> Counter[str]:
    """Wait until every event is final; poll the ledger twice a second (the workers need the CPU)."""
    ledger = EventLedger(create_engine_for(settings.effective_database_url))
    deadline = time.monotonic() + timeout
    try:
        while True:
            counts = Counter(ledger.count_by_status())
            if sum(counts[s] for s in ("succeeded", "ignored", "dead")) >= len(ids):
                return counts
            assert time.monotonic() < deadline, f"not settled after {timeout} s: {dict(counts)}"
            time.sleep(0.5)
    finally:
        ledger.engine.dispose()


def attempts_of(settings: Settings, ids: list[str]) -> dict[str, list[tuple[str | None, int | None]]]:
    ledger = EventLedger(create_engine_for(settings.effective_database_url))
    try:
        return {i: [(a.outcome, a.http_status) for a in ledger.attempts(i)] for i in ids}
    finally:
        ledger.engine.dispose()


def requests_to(base: str, method: str | None = None) -> list[dict[str, object]]:
    calls: list[dict[str, object]] = httpx.get(base + "/_sandbox/requests").json()
    return [c for c in calls if method is None or c["method"] == method]


def worker_logs(settings: Settings) -> str:
    return "".join(p.read_text() for p in sorted(Path(settings.data_dir).glob("worker-*.log")))


def cool_downs_within(seconds: float, *, first: float, largest: float) -> int:
    """How many cool-downs (doubling from ``first`` up to ``largest``) end within ``seconds``."""
    count, cooldown, elapsed = 0, first, first
    while elapsed <= seconds:
        count, cooldown = count + 1, min(cooldown * 2, largest)
        elapsed += cooldown
    return count


def test_two_workers_share_one_eduframe_budget_through_a_burst_of_60_enrollments(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess,
) -> None:  # fmt: skip
    enforced = sandbox_limit(world, {"requests": 20, "per_seconds": 10})
    env = {**FAST_RETRIES, "EDUHOOK_LIMIT_EDUFRAME": "20/10"}
    start_worker("-c", "16", **env)
    start_worker("-c", "16", **env)
    start_beat(**env)
    workers_ready(eduhook_settings, 2)
    enrollments = (world.enrollments_of(world.order_id) + world.enrollments_of(world.order_25_id))[:60]

    started = time.monotonic()
    ids = [webhook(receiver_url, "enrollment.created", id=e) for e in enrollments]
    counts = settle(eduhook_settings, ids, timeout=240)
    elapsed = time.monotonic() - started

    assert counts["succeeded"] == 60, counts
    # Each event used one attempt; the budget held many back first, and those were no attempts.
    assert all(a == [("succeeded", None)] for a in attempts_of(eduhook_settings, ids).values())
    assert worker_logs(eduhook_settings).count("deferred, no attempt used") >= 20
    if enforced:
        assert httpx.get(world.eduframe + RATE_LIMIT).json()["rejected"] == 0
    reads = len(requests_to(world.eduframe, "GET"))
    floor = reads / 20 * 10  # the limit's floor for the reads made: reads ÷ rate
    print(f"burst: {reads} Eduframe reads, {elapsed:.1f} s to drain, floor {floor:.1f} s")
    assert reads <= 2 * 60 + 20  # 2 per enrollment, the catalog, and little waste
    assert floor - 10 <= elapsed <= 1.2 * floor + 10
    learners = learners_at_pennfoster(world)
    assert len(learners) == len(set(learners)) == 60


def test_penn_foster_down_gets_the_calls_that_trip_the_breaker_and_one_probe_per_cool_down(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess,
) -> None:  # fmt: skip
    sandbox_limit(world, {"requests": None})
    concurrency = 4
    env = {**FAST_RETRIES, "EDUHOOK_LIMIT_EDUFRAME": "off", "EDUHOOK_BREAKER_FAILURES": "5",
           "EDUHOOK_BREAKER_COOLDOWN": "1", "EDUHOOK_BREAKER_MAX_COOLDOWN": "4"}  # fmt: skip
    fault(world.pennfoster, kind="status", status=503, count=10_000_000, path="/")
    start_worker("-c", str(concurrency), **env)
    start_worker("-c", str(concurrency), **env)
    start_beat(**env)
    workers_ready(eduhook_settings, 2)
    enrollments = world.enrollments_of(world.order_id) + world.enrollments_of(world.order_25_id)
    ids = [webhook(receiver_url, "enrollment.created", id=e) for e in enrollments]
    wait_until(lambda: "breaker pennfoster: open until" in worker_logs(eduhook_settings), 60, what="trip")
    # The outage goes on through three cool-downs (1, 2 and 4 s): the breaker's own failed probes
    # mark the time, and the next is a 4 s cool-down away, so the counts below are taken at rest.
    failed_probes = "the probe failed; open again"
    wait_until(lambda: worker_logs(eduhook_settings).count(failed_probes) >= 3, 60, what="three probes")
    during = len(requests_to(world.pennfoster))
    log = worker_logs(eduhook_settings)
    assert httpx.delete(world.pennfoster + "/_sandbox/faults").status_code == 200
    ended = time.time()

    found = re.findall(r"^(\S+ \S+) WARNING eduhook.protection: breaker pennfoster: (.*)$", log, re.M)
    transitions = sorted((dt.datetime.strptime(t, "%Y-%m-%d %H:%M:%S,%f").timestamp(), x) for t, x in found)
    kinds = [("probe" if "half-open" in text else "open") for _, text in transitions]
    # Open, then one probe per cool-down, each failing and opening the breaker again.
    assert kinds[0] == "open" and all(a != b for a, b in itertools.pairwise(kinds)), transitions
    probes = kinds.count("probe")
    held = ended - transitions[0][0]
    assert 1 <= probes <= cool_downs_within(held, first=1, largest=4), (probes, held)
    tripped_by = during - probes
    # Calls needed to trip: 5 failures in a row, plus the calls already on their way then (at
    # most one per other worker thread).
    print(f"outage: {during} Penn Foster calls in {held:.1f} s = {tripped_by} to trip + {probes} probes")
    assert 5 <= tripped_by <= 5 + 2 * concurrency - 1

    counts = settle(eduhook_settings, ids, timeout=120)
    assert counts["succeeded"] == len(ids) == 70, counts
    assert "breaker pennfoster: closed, the probe succeeded" in worker_logs(eduhook_settings)
    learners = learners_at_pennfoster(world)
    assert len(learners) == len(set(learners)) == 70
    attempts = attempts_of(eduhook_settings, ids)
    used = Counter(len(a) for a in attempts.values())
    # An attempt beyond each event's last one was used only by a call that reached Penn Foster.
    assert sum(n * k for n, k in used.items()) - len(ids) <= during, used
