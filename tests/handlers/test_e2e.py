"""Webhook → receiver → real worker processes → partner sandboxes over loopback: exactly-once enrollment."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from eduhook.ledger import EventLedger, EventRecord, create_engine_for
from eduhook.settings import Settings
from tests.conftest import REPO_ROOT, TEST_TOKEN, settings_env, wait_until
from tests.handlers.conftest import ACCOUNTS, BULK, COURSE_KEY, LEARNERS, PROGRAM, World


def webhook(receiver: str, event: str, **data: Any) -> str:
    body = {
        "tenant_id": "6f1c2a9e-0000-4000-8000-000000000001",
        "educator": "acme",
        "event": event,
        "event_data": data,
    }
    response = httpx.post(
        receiver + "/webhooks/eduframe", params={"token": TEST_TOKEN}, json=body, timeout=10
    )
    assert response.status_code in (200, 202), response.text
    event_id: str = response.json()["event_id"]
    return event_id


def finished(settings: Settings, *event_ids: str, timeout: float = 60) -> list[EventRecord]:
    ledger = EventLedger(create_engine_for(settings.effective_database_url))

    def all_done() -> list[EventRecord] | None:
        events = [ledger.get(i) for i in event_ids]
        if all(e is not None and e.status in ("succeeded", "ignored", "failed", "dead") for e in events):
            return [e for e in events if e is not None]
        return None

    result = wait_until(all_done, timeout, what=f"{len(event_ids)} events to finish")
    ledger.engine.dispose()
    assert isinstance(result, list)
    return result


def rerun(settings: Settings, event_id: str) -> None:
    """``eduhook replay ID``: the event is queued again with a fresh retry budget."""
    replayed = subprocess.run(
        [sys.executable, "-m", "eduhook.cli", "replay", event_id, "--reason", "test re-run"],
        env=settings_env(settings), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr


StartWorker = Callable[..., subprocess.Popen[bytes]]


def test_order_of_45_then_its_enrollments_and_a_redelivery(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker("-c", "4")
    order_event = webhook(receiver_url, "order.approved", id=world.order_id)
    [event] = finished(eduhook_settings, order_event)
    assert (event.status, event.last_error) == ("succeeded", None)

    batches = world.calls(world.pennfoster, LEARNERS)
    assert [len(call["body"]) for call in batches] == [20, 20, 5]
    learners = [learner for call in batches for learner in call["body"]]
    alternate_ids = {item["learner_info"]["alternate_id"] for item in learners}
    assert len(alternate_ids) == 45
    assert {item["program_info"]["program_id"] for item in learners} == {PROGRAM}
    first = learners[0]
    assert first["organization_info"]["organization_id"] == 141982
    assert first["learner_info"]["first_name"].isalpha()
    assert first["learner_info"]["phone_number"].isdigit()
    assert len(first["learner_info"]["address"]["country"]) == 3
    assert len({item["transaction_guid"] for item in learners}) == 45

    [bulk] = world.calls(world.appsembler, BULK)
    assert bulk["body"]["courses"] == COURSE_KEY
    assert len(bulk["body"]["identifiers"].split(",")) == 45
    assert bulk["body"]["action"] == "enroll" and bulk["body"]["auto_enroll"] is True
    assert len(world.calls(world.appsembler, ACCOUNTS)) == 45

    # The 45 enrollment.created events describe the same enrollments: no partner call at all.
    enrollment_events = [
        webhook(receiver_url, "enrollment.created", id=e) for e in world.enrollments_of(world.order_id)
    ]
    assert all(e.status == "succeeded" for e in finished(eduhook_settings, *enrollment_events))
    # A redelivered order is recognised as a duplicate and queues nothing.
    assert webhook(receiver_url, "order.approved", id=world.order_id) == order_event
    assert len(world.calls(world.pennfoster, LEARNERS)) == 3
    assert len(world.calls(world.appsembler, BULK)) == 1
    assert len(world.calls(world.appsembler, ACCOUNTS)) == 45


def test_a_failed_second_batch_is_all_a_rerun_sends(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    httpx.post(
        world.pennfoster + "/_sandbox/faults",
        json={"kind": "status", "status": 503, "path": LEARNERS, "method": "POST", "skip": 1},
    )
    start_worker()
    order_event = webhook(receiver_url, "order.approved", id=world.order_id)
    [event] = finished(eduhook_settings, order_event)
    assert event.status == "failed" and event.last_error_class == "transient"
    assert "HTTP 503" in (event.last_error or "")
    calls = world.calls(world.pennfoster, LEARNERS)
    assert [len(c["body"]) for c in calls] == [20, 20, 5]
    failed_batch = {item["learner_info"]["alternate_id"] for item in calls[1]["body"]}

    rerun(eduhook_settings, order_event)
    wait_until(lambda: finished(eduhook_settings, order_event)[0].status == "succeeded", what="the re-run")
    calls = world.calls(world.pennfoster, LEARNERS)
    assert len(calls) == 4
    assert {item["learner_info"]["alternate_id"] for item in calls[3]["body"]} == failed_batch
    # Appsembler succeeded the first time and is not called again.
    assert len(world.calls(world.appsembler, BULK)) == 1


def test_cancellations_reach_partners_only_for_what_eduhook_created(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker()
    [approved] = finished(eduhook_settings, webhook(receiver_url, "order.approved", id=world.small_order_id))
    assert approved.status == "succeeded"
    # An enrollment eduhook never acted on is canceled in Eduframe: nothing to undo.
    outsider = world.enrollments_of(world.order_id)[0]
    httpx.post(world.eduframe + "/_sandbox/seed", json={"enrollments": [
        {"id": outsider, "status": "canceled", "student_id": world.students[0],
         "planned_course_id": world.seed.records["enrollments"][outsider]["planned_course_id"],
         "order_id": world.order_id}]})  # fmt: skip
    [ignored] = finished(eduhook_settings, webhook(receiver_url, "enrollment.updated", id=outsider))
    assert (ignored.status, ignored.status_reason) == ("ignored", "no matching effect")

    # The small order is canceled: both partners hear of exactly its three learners.
    canceled = httpx.put(
        world.eduframe + f"/orders/{world.small_order_id}/cancel",
        headers={"Authorization": "Bearer eduframe-sandbox-token"},
    )
    assert canceled.status_code == 200, canceled.text
    [event] = finished(eduhook_settings, webhook(receiver_url, "order.canceled", id=world.small_order_id))
    assert event.status == "succeeded", event.last_error
    cancels = world.calls(world.pennfoster, LEARNERS + "/cancel")
    assert len(cancels) == 3
    created = {
        item["learner_info"]["alternate_id"]
        for c in world.calls(world.pennfoster, LEARNERS)
        for item in c["body"]
    }
    state = httpx.get(world.pennfoster + "/_sandbox/state").json()
    ours = {learner["learner_id"] for learner in state["learners"] if learner["alternate_id"] in created}
    assert {c["body"]["student_id"] for c in cancels} == ours and len(ours) == 3
    unenroll = [c for c in world.calls(world.appsembler, BULK) if c["body"]["action"] == "unenroll"]
    assert len(unenroll) == 1 and len(unenroll[0]["body"]["identifiers"].split(",")) == 3
    # The same cancellation again (another delivery) changes nothing at either partner.
    repeat = webhook(receiver_url, "order.canceled", id=world.small_order_id, again=True)
    assert repeat != event.id
    [again] = finished(eduhook_settings, repeat)
    assert again.status in ("succeeded", "ignored"), again.last_error
    assert len(world.calls(world.pennfoster, LEARNERS + "/cancel")) == 3
    assert len([c for c in world.calls(world.appsembler, BULK) if c["body"]["action"] == "unenroll"]) == 1


def test_lead_no_route_and_permanent_errors(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker()
    lead, unrouted, no_phone = finished(
        eduhook_settings,
        webhook(receiver_url, "lead.created", id=world.lead_id),
        webhook(receiver_url, "order.approved", id=world.unrouted_order_id),
        webhook(receiver_url, "order.approved", id=world.no_phone_order_id),
    )
    assert lead.status == "succeeded", lead.last_error
    [lead_call] = world.calls(world.pennfoster, "/api/v3/b2b/leads")
    assert len(lead_call["body"]) == 1
    assert (unrouted.status, unrouted.status_reason) == ("ignored", "no route")
    assert no_phone.status == "dead" and no_phone.last_error_class == "permanent"
    user_id = world.seed.records["orders"][world.no_phone_order_id]["order_items"][0]["student_id"]
    assert "phone" in (no_phone.last_error or "") and str(user_id) in (no_phone.last_error or "")
    assert "example.com" not in (no_phone.last_error or "")

    httpx.post(
        world.pennfoster + "/_sandbox/pennfoster/item-errors",
        json={"code": "E601400001", "count": 1, "target": "learners"},
    )
    [rejected] = finished(eduhook_settings, webhook(receiver_url, "order.approved", id=world.small_order_id))
    assert rejected.status == "dead" and rejected.last_error_class == "permanent"
    assert "E601400001 (Country is invalid)" in (rejected.last_error or "")


def test_overlapping_events_on_several_workers_enroll_each_learner_once(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    for _ in range(3):
        start_worker("-c", "4")
    events = [("order.approved", world.order_id)] + [
        ("enrollment.created", e) for e in world.enrollments_of(world.order_id)
    ]
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(lambda pair: webhook(receiver_url, pair[0], id=pair[1]), events))
    results = finished(eduhook_settings, *ids, timeout=120)
    assert [e.status for e in results] == ["succeeded"] * len(results), [e.last_error for e in results]
    learners = [
        item["learner_info"]["alternate_id"]
        for c in world.calls(world.pennfoster, LEARNERS)
        for item in c["body"]
    ]
    assert len(learners) == len(set(learners)) == 45
    identifiers = [
        i for c in world.calls(world.appsembler, BULK) for i in c["body"]["identifiers"].split(",")
    ]
    assert len(identifiers) == len(set(identifiers)) == 45
    assert len(world.calls(world.appsembler, ACCOUNTS)) == 45
    # Three worker processes shared one Penn Foster token: the first fetch is single-flight.
    assert httpx.get(world.pennfoster + "/_sandbox/state").json()["tokens_issued"] == 1
