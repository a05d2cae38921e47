"""Webhook → receiver → real worker processes → partner sandboxes over loopback: exactly-once enrollment."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from starlette.types import ASGIApp

from eduhook.ledger import EventLedger, EventRecord, create_engine_for, upgrade
from eduhook.settings import Settings
from sandbox import appsembler, eduframe, pennfoster
from sandbox.eduframe.seed import EduframeSeed
from sandbox.server import RunningServer
from tests.conftest import TEST_TOKEN, wait_until
from workers.messages import process_event_message

PROGRAM = "NUR01105"
COURSE_KEY = "course-v1:edX+DemoX+Demo_Course"
LEARNERS = "/api/v4/b2b/learners"
BULK = "/appsembler_api/v0/bulk-enrollment/bulk-enroll"
ACCOUNTS = "/appsembler_api/v0/accounts/create"
STATES = ["PA", "NY", "CA", "TX", "OH"]


@dataclass
class World:
    """The partner sandboxes of one test and the Eduframe data they serve."""

    eduframe: str
    pennfoster: str
    appsembler: str
    seed: EduframeSeed
    order_id: int
    small_order_id: int
    unrouted_order_id: int
    students: list[int]
    no_phone_order_id: int
    lead_id: int

    def enrollments_of(self, order_id: int) -> list[int]:
        return [e for e, r in self.seed.records["enrollments"].items() if r["order_id"] == order_id]

    def calls(self, base: str, path: str) -> list[dict[str, Any]]:
        requests: list[dict[str, Any]] = httpx.get(base + "/_sandbox/requests", params={"path": path}).json()
        return [r for r in requests if r["path"] == path and r["method"] == "POST"]


def _student(seed: EduframeSeed, n: int, *, phone: str | None = "+1 (570) 555-01{n:02d}") -> int:
    return seed.add_user(
        first_name=["Ann-Marie", "José", "Li", "O'Neil"][n % 4], last_name=f"Tester{chr(65 + n % 26)}",
        email=f"student{n}@example.com", phone=phone.format(n=n) if phone else None,
        birth_date=f"199{n % 10}-0{1 + n % 9}-1{n % 10}", gender="F" if n % 2 else "M",
        address={"address": f"{n} Main Street", "postal_code": f"1850{n % 10}", "city": "Scranton",
                 "country": "US", "state_province": STATES[n % len(STATES)]},
    )  # fmt: skip


@pytest.fixture
def world(serve: Callable[[ASGIApp], RunningServer]) -> World:
    seed = EduframeSeed()
    _, _, nursing = seed.add_offering(code="PF-NURSE", name="Nursing Assistant")
    _, _, other = seed.add_offering(code="UNROUTED-1", name="Not routed anywhere")
    students = [_student(seed, n) for n in range(45)]
    order_id = seed.add_order(students=students, variant_id=nursing, status="active")
    small = [_student(seed, n) for n in range(100, 103)]
    small_order_id = seed.add_order(students=small, variant_id=nursing, status="active")
    unrouted_order_id = seed.add_order(students=students[:1], variant_id=other, status="active")
    no_phone_order_id = seed.add_order(students=[_student(seed, 200, phone=None)], variant_id=nursing)
    product = seed.records["catalog_variants"][nursing]["product_id"]
    data = seed.to_dict()
    lead_id = 9001
    data["leads"] = [{
        "id": lead_id, "first_name": "Lena", "last_name": "Lead", "email": "lena@example.com",
        "phone": "+15705550199", "status": "prospect", "user_id": students[7],
        "address": {"address": "1 Lead Lane", "postal_code": "18503", "city": "Scranton",
                    "country": "US", "state_province": "PA"},
        "lead_products": [{"catalog_product_id": product, "catalog_variant_id": nursing}],
    }]  # fmt: skip
    return World(
        eduframe=serve(eduframe.create_app(data)).url,
        pennfoster=serve(pennfoster.create_app()).url,
        appsembler=serve(appsembler.create_app()).url,
        seed=seed, order_id=order_id, small_order_id=small_order_id, unrouted_order_id=unrouted_order_id,
        students=students, no_phone_order_id=no_phone_order_id, lead_id=lead_id,
    )  # fmt: skip


CONFIG = """
[eduframe]
api_url = "{w.eduframe}"
api_token = "eduframe-sandbox-token"
[penn_foster]
api_url = "{w.pennfoster}"
client_id = "eduhook-sandbox"
client_secret = "sandbox-client-secret"
api_key = "sandbox-api-key"
[appsembler]
api_url = "{w.appsembler}"
api_token = "sandbox-appsembler-token"

[[routes]]
name = "nursing"
course_code = "PF-NURSE"
[routes.penn_foster]
program_id = "{program}"
organization_id = 141982
location_id = 244648
client_id = 329209
enrollment_type = "B2B"
contact_email_address = "enrollments@example.com"
leads = true
[routes.appsembler]
course_ids = ["{course}"]
create_accounts = true
auto_enroll = true
"""


@pytest.fixture
def eduhook_settings(tmp_path: Path, database_url: str, redis_url: str, world: World) -> Settings:
    """Overrides the shared fixture: real handlers, routes to the sandboxes."""
    config = tmp_path / "eduhook.toml"
    config.write_text(CONFIG.format(w=world, program=PROGRAM, course=COURSE_KEY))
    settings = Settings(
        config=config, data_dir=tmp_path / "var", database_url=database_url, redis_url=redis_url,
        webhook_tokens=[TEST_TOKEN], educators=[], handler_modules=["handlers.builtin"],
    )  # fmt: skip
    engine = create_engine_for(database_url)
    upgrade(engine)
    engine.dispose()
    return settings


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
        if all(e is not None and e.status in ("succeeded", "ignored", "failed") for e in events):
            return [e for e in events if e is not None]
        return None

    result = wait_until(all_done, timeout, what=f"{len(event_ids)} events to finish")
    ledger.engine.dispose()
    assert isinstance(result, list)
    return result


def rerun(settings: Settings, event_id: str) -> None:
    """What a replay does: queue the event again."""
    assert settings.redis_url
    redis.Redis.from_url(settings.redis_url).lpush("eduhook", process_event_message(event_id))


StartWorker = Callable[..., subprocess.Popen[bytes]]
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@sqlite_only
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


@sqlite_only
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


@sqlite_only
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
    assert (ignored.status, ignored.status_reason) == (
        "ignored",
        "nothing eduhook created for this enrollment",
    )

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
    assert all(c["body"].get("student_id") or c["body"].get("alternate_id") in created for c in cancels)
    unenroll = [c for c in world.calls(world.appsembler, BULK) if c["body"]["action"] == "unenroll"]
    assert len(unenroll) == 1 and len(unenroll[0]["body"]["identifiers"].split(",")) == 3
    # The same cancellation again changes nothing.
    assert webhook(receiver_url, "order.canceled", id=world.small_order_id, again=True)
    wait_until(lambda: len(world.calls(world.pennfoster, LEARNERS + "/cancel")) == 3, what="stable count")


@sqlite_only
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
    assert no_phone.status == "failed" and no_phone.last_error_class == "permanent"
    user_id = world.seed.records["orders"][world.no_phone_order_id]["order_items"][0]["student_id"]
    assert "phone" in (no_phone.last_error or "") and str(user_id) in (no_phone.last_error or "")
    assert "example.com" not in (no_phone.last_error or "")

    httpx.post(
        world.pennfoster + "/_sandbox/pennfoster/item-errors",
        json={"code": "E601400001", "count": 1, "target": "learners"},
    )
    [rejected] = finished(eduhook_settings, webhook(receiver_url, "order.approved", id=world.small_order_id))
    assert rejected.status == "failed" and rejected.last_error_class == "permanent"
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
