"""Withdrawals called directly against the sandboxes: what they keep, wait for, and leave cancelled."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from eduhook.ledger.effects import EffectLedger
from eduhook.ledger.provenance import Source
from eduhook.settings import Settings
from handlers.context import HandlerContext
from handlers.effects import EffectKey
from handlers.enrollments import enrollment_updated
from handlers.errors import TransientError
from handlers.mapping import appsembler_username
from handlers.orders import order_approved, order_withdrawn
from handlers.registry import HandlerResult
from tests.handlers.conftest import BULK, COURSE_KEY, LEARNERS, World
from tests.handlers.test_handlers import event

NURSING_PLANNED, UNROUTED_PLANNED = 201, 202


def cancel_order(world: World, order_id: int) -> None:
    answer = httpx.put(f"{world.eduframe}/orders/{order_id}/cancel",
                       headers={"Authorization": "Bearer eduframe-sandbox-token"})  # fmt: skip
    assert answer.status_code == 200, answer.text


def unenrolled(world: World) -> list[str]:
    calls = world.calls(world.appsembler, BULK)
    return [
        i for c in calls if c["body"]["action"] == "unenroll" for i in c["body"]["identifiers"].split(",")
    ]


def test_an_order_withdrawal_keeps_students_enrolled_another_way(world: World, ctx: HandlerContext) -> None:
    assert order_approved(event("order.approved", id=world.small_order_id), ctx) == HandlerResult()
    kept, *gone = world.seed.records["orders"][world.small_order_id]["order_items"]
    kept_id = kept["student_id"] if isinstance(kept, dict) else kept
    # The first student also has a live enrollment in the same course through another order.
    other = {"id": 8500, "student_id": kept_id, "planned_course_id": NURSING_PLANNED, "order_id": 5900}
    assert httpx.post(world.eduframe + "/_sandbox/seed", json={"enrollments": [other]}).status_code == 200
    cancel_order(world, world.small_order_id)

    assert order_withdrawn(event("order.canceled", id=world.small_order_id), ctx) == HandlerResult()
    gone_ids = [g["student_id"] if isinstance(g, dict) else g for g in gone]
    assert set(unenrolled(world)) == {world.seed.records["users"][s]["email"] for s in gone_ids}
    assert len(world.calls(world.pennfoster, LEARNERS + "/cancel")) == 2
    # What was kept now answers to that enrollment: its own cancellation undoes it.
    httpx.post(world.eduframe + "/_sandbox/seed", json={"enrollments": [other | {"status": "canceled"}]})
    assert enrollment_updated(event("enrollment.updated", id=8500), ctx) == HandlerResult()
    assert world.seed.records["users"][kept_id]["email"] in unenrolled(world)
    assert len(world.calls(world.pennfoster, LEARNERS + "/cancel")) == 3


def test_a_withdrawal_waits_for_effects_still_being_made(world: World, ctx: HandlerContext) -> None:
    student = world.seed.records["enrollments"][world.enrollments_of(world.small_order_id)[0]]["student_id"]
    key = EffectKey("appsembler", "enroll", "acme", str(student), COURSE_KEY)
    store = EffectLedger(ctx.engine)
    in_flight = store.claim([key], event_id="approved", source=Source("order", None, world.small_order_id))
    cancel_order(world, world.small_order_id)
    with pytest.raises(TransientError, match="still being made"):
        order_withdrawn(event("order.canceled", id=world.small_order_id), ctx)
    assert unenrolled(world) == []
    store.complete(key, in_flight.owner, {"course": COURSE_KEY, "enrolled": True})
    assert order_withdrawn(event("order.canceled", id=world.small_order_id), ctx) == HandlerResult()
    assert unenrolled(world) == [world.seed.records["users"][student]["email"]]


def test_a_claim_whose_worker_died_is_not_waited_for(world: World, ctx: HandlerContext) -> None:
    student = world.seed.records["enrollments"][world.enrollments_of(world.small_order_id)[0]]["student_id"]
    key = EffectKey("appsembler", "enroll", "acme", str(student), COURSE_KEY)
    lapsed = EffectLedger(ctx.engine, lease=dt.timedelta(seconds=-1))  # its lease ran out at once
    lapsed.claim([key], event_id="approved", source=Source("order", None, world.small_order_id))
    cancel_order(world, world.small_order_id)
    assert order_withdrawn(event("order.canceled", id=world.small_order_id), ctx) == HandlerResult.ignored(
        "nothing eduhook created for this order"
    )


def test_an_order_whose_enrollments_were_all_cancelled_enrolls_nobody_again(
    world: World, ctx: HandlerContext, eduhook_settings: Settings
) -> None:
    approved = event("order.approved", id=world.small_order_id)
    assert order_approved(approved, ctx) == HandlerResult()
    for enrollment_id in world.enrollments_of(world.small_order_id):
        record = world.seed.records["enrollments"][enrollment_id] | {"status": "canceled"}
        httpx.post(world.eduframe + "/_sandbox/seed", json={"enrollments": [record]})
        assert enrollment_updated(event("enrollment.updated", id=enrollment_id), ctx) == HandlerResult()
    sent = len(world.calls(world.pennfoster, LEARNERS)), len(world.calls(world.appsembler, BULK))
    assert order_approved(approved, ctx) == HandlerResult.ignored(
        "already cancelled for this order; a new enrollment enrolls again"
    )
    assert (len(world.calls(world.pennfoster, LEARNERS)), len(world.calls(world.appsembler, BULK))) == sent


def test_moved_to_a_course_without_a_route_undoes_everything(world: World, ctx: HandlerContext) -> None:
    assert order_approved(event("order.approved", id=world.small_order_id), ctx) == HandlerResult()
    enrollment_id = world.enrollments_of(world.small_order_id)[0]
    record = world.seed.records["enrollments"][enrollment_id] | {"planned_course_id": UNROUTED_PLANNED}
    httpx.post(world.eduframe + "/_sandbox/seed", json={"enrollments": [record]})
    assert enrollment_updated(event("enrollment.updated", id=enrollment_id), ctx) == HandlerResult()
    assert len(world.calls(world.pennfoster, LEARNERS + "/cancel")) == 1
    assert unenrolled(world) == [world.seed.records["users"][record["student_id"]]["email"]]
    state = httpx.get(world.appsembler + "/_sandbox/state").json()["enrollments"]
    assert appsembler_username("acme", record["student_id"]) not in state[COURSE_KEY]
    # Delivered again: nothing left to undo, and the new course routes nowhere.
    assert enrollment_updated(event("enrollment.updated", id=enrollment_id), ctx) == HandlerResult.ignored(
        "no route"
    )
