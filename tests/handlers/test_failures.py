"""Failure handling end to end: receiver, real workers and beat, sandboxes over loopback.

Partner outages are retried on the ledger's schedule until they heal; what cannot heal goes dead
with its reason; ``eduhook replay`` brings dead events back. No learner is ever created twice.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import sqlalchemy as sa

from eduhook.ledger import EventLedger, EventRecord, NewEvent, create_engine_for
from eduhook.ledger.schedule import ScheduleLedger
from eduhook.settings import Settings
from handlers.context import HandlerContext
from handlers.registry import load_registry
from tests.conftest import FAST_RETRIES, REPO_ROOT, settings_env, wait_until
from tests.handlers.conftest import BULK, LEARNERS, World
from tests.handlers.test_e2e import webhook
from workers.processor import EventProcessor
from workers.retry import RetryPolicy

StartProcess = Callable[..., subprocess.Popen[bytes]]
FINAL = ("succeeded", "ignored", "dead")


def settled(settings: Settings, *event_ids: str, timeout: float = 90) -> list[EventRecord]:
    """The events once each is final: succeeded, ignored or dead (retries are automatic now)."""
    ledger = EventLedger(create_engine_for(settings.effective_database_url))

    def all_final() -> list[EventRecord] | None:
        events = [ledger.get(i) for i in event_ids]
        return [e for e in events if e] if all(e and e.status in FINAL for e in events) else None

    try:
        result = wait_until(all_final, timeout, what=f"{len(event_ids)} events to settle")
    finally:
        ledger.engine.dispose()
    assert isinstance(result, list)
    return result


def fault(base: str, **rule: Any) -> None:
    assert httpx.post(base + "/_sandbox/faults", json=rule).status_code == 200


def learners_at_pennfoster(world: World) -> list[str]:
    state = httpx.get(world.pennfoster + "/_sandbox/state").json()
    return [learner["alternate_id"] for learner in state["learners"]]


def eduhook(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eduhook.cli", *args],
        env=settings_env(settings), cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_penn_foster_503_storm_ends_with_every_learner_created_once(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess,
) -> None:  # fmt: skip
    fault(world.pennfoster, kind="status", status=503, count=8, path=LEARNERS, method="POST")
    start_worker("-c", "4", **FAST_RETRIES)
    start_beat(**FAST_RETRIES)
    ids = [webhook(receiver_url, "order.approved", id=o) for o in (world.order_id, world.small_order_id)]
    ids += [
        webhook(receiver_url, "enrollment.created", id=e) for e in world.enrollments_of(world.order_25_id)
    ]
    events = settled(eduhook_settings, *ids)
    assert [e.status for e in events] == ["succeeded"] * len(events), [e.last_error for e in events]
    assert any(e.attempts > 1 for e in events)  # the storm did hit
    learners = learners_at_pennfoster(world)
    assert len(learners) == len(set(learners)) == 45 + 3 + 25


def test_one_503_on_the_second_batch_of_25_is_retried_by_itself(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess,
) -> None:  # fmt: skip
    fault(world.pennfoster, kind="status", status=503, count=1, skip=1, path=LEARNERS, method="POST")
    start_worker(**FAST_RETRIES)
    start_beat(**FAST_RETRIES)
    [event] = settled(eduhook_settings, webhook(receiver_url, "order.approved", id=world.order_25_id))
    assert (event.status, event.attempts) == ("succeeded", 2)
    calls = world.calls(world.pennfoster, LEARNERS)
    assert [len(c["body"]) for c in calls] == [20, 5, 5]
    batch = [[item["learner_info"]["alternate_id"] for item in c["body"]] for c in calls]
    assert batch[2] == batch[1]  # only the failed batch again; the first one was sent once
    assert len(set(learners_at_pennfoster(world))) == 25
    assert len(world.calls(world.appsembler, BULK)) == 1  # Appsembler was done the first time


def test_a_permanent_item_error_is_dead_after_one_attempt_with_its_code(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess,
) -> None:  # fmt: skip
    httpx.post(world.pennfoster + "/_sandbox/pennfoster/item-errors",
               json={"code": "E601400001", "count": 1, "target": "learners"})  # fmt: skip
    start_worker(**FAST_RETRIES)
    start_beat(**FAST_RETRIES)
    [event] = settled(eduhook_settings, webhook(receiver_url, "order.approved", id=world.small_order_id))
    assert (event.status, event.attempts, event.last_error_class) == ("dead", 1, "permanent")
    assert (event.last_partner, event.last_partner_code) == ("pennfoster", "E601400001")
    assert len(learners_at_pennfoster(world)) == 2  # the other two learners are in
    # One ERROR line says so, for alerts, with ids and codes but nothing personal.
    log = (eduhook_settings.data_dir / "worker-0.log").read_text()
    [line] = [line for line in log.splitlines() if f"event {event.id} (order.approved) is dead" in line]
    assert " ERROR " in line and "code=E601400001" in line and "partner=pennfoster" in line
    assert "example.com" not in log and "Tester" not in log


def snapshot(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine_for(settings.effective_database_url)
    tables = {}
    with engine.connect() as conn:
        for name in ("events", "attempts", "effects", "replays"):
            rows = conn.execute(sa.text(f"SELECT * FROM {name}")).all()  # noqa: S608
            tables[name] = sorted(tuple(map(str, row)) for row in rows)
    engine.dispose()
    return tables


def orders_dead_in_an_outage(
    world: World, receiver_url: str, start_worker: StartProcess, start_beat: StartProcess
) -> list[str]:
    """Penn Foster down for good, three attempts each: two orders (of 2 and 25 learners) will die.
    Returns their event ids; the caller waits for them to settle."""
    fault(world.pennfoster, kind="status", status=503, count=10_000, path=LEARNERS, method="POST")
    short = {**FAST_RETRIES, "EDUHOOK_RETRY_MAX_ATTEMPTS": "3"}
    start_worker("-c", "4", **short)
    start_beat(**short)
    return [webhook(receiver_url, "order.approved", id=o) for o in (world.small_order_id, world.order_25_id)]


def test_dead_after_a_long_outage_then_replayed_once_the_partner_is_back(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess,
) -> None:  # fmt: skip
    ids = orders_dead_in_an_outage(world, receiver_url, start_worker, start_beat)
    dead = settled(eduhook_settings, *ids)
    assert [(e.status, e.attempts, e.status_reason) for e in dead] == [
        ("dead", 3, "still failing after 3 attempts")
    ] * 2
    assert {(e.last_partner, e.last_http_status, e.last_error_class) for e in dead} == {
        ("pennfoster", 503, "transient")
    }

    listed = eduhook(eduhook_settings, "dlq", "list", "--partner", "pennfoster", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(orjson.loads(line)["id"] for line in listed.stdout.splitlines()) == sorted(ids)
    stats = orjson.loads(eduhook(eduhook_settings, "dlq", "stats", "--json").stdout)
    assert stats == {"dead": 2, "groups": [{"partner": "pennfoster", "error_class": "transient",
                                            "partner_code": None, "count": 2}]}  # fmt: skip
    shown = eduhook(eduhook_settings, "dlq", "show", ids[0])
    assert shown.returncode == 0, shown.stderr
    assert "still failing after 3 attempts" in shown.stdout and "pending" not in shown.stdout
    assert (
        "failed   pennfoster:learner:acme:" in shown.stdout and "done     appsembler:enroll:" in shown.stdout
    )
    assert "example.com" not in shown.stdout  # the payload is redacted

    # A dry run changes nothing in the ledger and calls no partner.
    httpx.post(world.pennfoster + "/_sandbox/faults", json={})
    requests_before = {base: len(httpx.get(base + "/_sandbox/requests").json())
                       for base in (world.eduframe, world.pennfoster, world.appsembler)}  # fmt: skip
    before = snapshot(eduhook_settings)
    dry = eduhook(eduhook_settings, "replay", "--dead", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    plan = orjson.loads(dry.stdout)
    assert (plan["would_queue"], plan["skipped"]) == (2, 0)
    calls = [c for e in plan["events"] for c in e["calls"]]
    assert {c["would"] for c in calls if c["partner"] == "appsembler"} == {"skip (done)"}
    assert {c["would"] for c in calls if c["partner"] == "pennfoster"} == {"send"}
    assert snapshot(eduhook_settings) == before
    assert requests_before == {
        base: len(httpx.get(base + "/_sandbox/requests").json()) for base in requests_before
    }

    # Penn Foster is back: the replay enrolls every learner once, and says who did it and why. A
    # second operator replaying the same events by id while they run duplicates nothing.
    assert httpx.delete(world.pennfoster + "/_sandbox/faults").status_code == 200
    replayed = eduhook(eduhook_settings, "replay", "--dead", "--reason", "Penn Foster outage over", "--yes",
                       "--actor", "ops-test", "--json")  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    rival_args = [*ids, "--force", "--reason", "me too", "--actor", "rival"]
    rival = subprocess.Popen(
        [sys.executable, "-m", "eduhook.cli", "replay", *rival_args],
        env=settings_env(eduhook_settings),
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    result = orjson.loads(replayed.stdout)
    assert (result["queued"], result["skipped"]) == (2, 0)
    rival.wait(60)
    done = settled(eduhook_settings, *ids)
    assert [e.status for e in done] == ["succeeded"] * 2, [e.last_error for e in done]
    learners = learners_at_pennfoster(world)
    assert len(learners) == len(set(learners)) == 3 + 25
    assert len(world.calls(world.appsembler, BULK)) == 2  # one per order, none again on replay
    audit = eduhook(eduhook_settings, "audit", "list", "--json").stdout.splitlines()
    [entry] = [e for e in map(orjson.loads, audit) if e["actor"] == "ops-test"]
    assert (entry["reason"], entry["queued"], sorted(entry["event_ids"])) == (
        "Penn Foster outage over",
        2,
        sorted(ids),
    )
    assert entry["selection"] == {"filter": {"status": "dead"}}

    # Nothing is left to replay: a clear message, exit code 1, nothing queued.
    again = eduhook(eduhook_settings, "replay", "--dead", "--reason", "again", "--yes")
    assert again.returncode == 1 and "no dead events match" in again.stderr


def test_retry_after_is_honoured_before_the_next_attempt(world: World, eduhook_settings: Settings) -> None:
    """In-process, with an injected clock: the processor and scheduler against the real sandboxes."""
    fault(world.pennfoster, kind="rate_limit", retry_after=7, count=1, path=LEARNERS, method="POST")
    t0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    now = [t0]
    settings = eduhook_settings.model_copy(update={"retry_first_delay": 0.2, "retry_max_delay": 60,
                                                   "retry_jitter": "none"})  # fmt: skip
    engine = create_engine_for(settings.effective_database_url)
    ledger = EventLedger(engine)
    context = HandlerContext(settings=settings, engine=engine, clock=lambda: now[0], worker_id="test")
    registry = load_registry(settings.handler_modules)
    policy = RetryPolicy.from_settings(settings)
    processor = EventProcessor(
        ledger=ledger, registry=registry, context=context, clock=lambda: now[0], policy=policy
    )
    body = {
        "tenant_id": "t",
        "educator": "acme",
        "event": "order.approved",
        "event_data": {"id": world.small_order_id},
    }
    payload = orjson.dumps(body).decode()
    ledger.insert_batch(
        [NewEvent("e-429", "acme", "t", "order.approved", "k-429", payload, "queued", None, t0)]
    )

    assert processor.process("e-429") == "failed"
    failed = ledger.get("e-429")
    assert failed is not None and failed.last_http_status == 429
    assert failed.next_attempt_at == t0 + dt.timedelta(seconds=7)
    schedule = ScheduleLedger(engine)
    assert schedule.claim_due(t0 + dt.timedelta(seconds=6.99)) == []
    now[0] = t0 + dt.timedelta(seconds=7)
    assert schedule.claim_due(now[0]) == ["e-429"]
    assert processor.process("e-429") == "succeeded"
    first, second = ledger.attempts("e-429")
    assert first.finished_at is not None and second.started_at - first.finished_at >= dt.timedelta(seconds=7)
    assert len(learners_at_pennfoster(world)) == 3
    engine.dispose()


def test_a_worker_killed_with_a_penn_foster_batch_in_flight_loses_and_duplicates_nothing(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess,
) -> None:  # fmt: skip
    # The first learner batch is held 3 s at Penn Foster, which then creates its learners anyway.
    fault(world.pennfoster, kind="delay", delay=3, count=1, path=LEARNERS, method="POST")
    # Claims expire after 2 s and a stale attempt is given up after 2 + 1 s: no 120 s lease to wait for.
    short = {**FAST_RETRIES, "EDUHOOK_EFFECT_LEASE_SECONDS": "2", "EDUHOOK_TASK_TIME_LIMIT": "2",
             "EDUHOOK_ABANDON_MARGIN": "1"}  # fmt: skip
    first = start_worker(**short)
    event_id = webhook(receiver_url, "order.approved", id=world.order_25_id)
    wait_until(lambda: world.calls(world.pennfoster, LEARNERS), 30, what="the first batch to be in flight")
    first.kill()
    first.wait(10)
    # Penn Foster carries the batch out although nobody waits for its answer any more.
    wait_until(lambda: len(learners_at_pennfoster(world)) == 20, 30, what="Penn Foster to record the batch")

    # The scheduler starts with the new worker, so no backlog of its runs piles up meanwhile; its
    # first run finds the attempt of the dead worker. One thread: two scheduler runs never overlap
    # (on SQLite, overlapping runs can queue a lost event twice), so the attempts are these two.
    start_beat(**short)
    start_worker("-c", "1", **short)
    [event] = settled(eduhook_settings, event_id)
    assert event.status == "succeeded", event.last_error
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    attempts = ledger.attempts(event_id)
    assert [a.outcome for a in attempts] == ["abandoned", "succeeded"], [a.error_message for a in attempts]
    learners = learners_at_pennfoster(world)
    assert len(learners) == len(set(learners)) == 25
    batches = [len(c["body"]) for c in world.calls(world.pennfoster, LEARNERS)]
    # Every lapsed claim was in doubt and looked up: the 20 in flight were found and not sent again,
    # the 5 never sent were not found and went as new.
    assert batches == [20, 5]
    lookups = httpx.get(world.pennfoster + "/_sandbox/requests", params={"path": LEARNERS}).json()
    assert len([r for r in lookups if r["method"] == "GET" and r["query"].startswith("alternate_id=")]) == 25
    ledger.engine.dispose()
