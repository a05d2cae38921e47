"""Handlers called directly (no queue) against the sandboxes: the paths the e2e tests do not take."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import pytest

from eduhook.ledger import EventRecord, create_engine_for
from eduhook.settings import Settings
from handlers.context import HandlerContext
from handlers.enrollments import enrollment_deleted
from handlers.errors import PermanentError
from handlers.orders import order_approved, order_withdrawn
from handlers.registry import HandlerResult
from tests.handlers.conftest import LEARNERS, World

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def event(event_type: str, **data: Any) -> EventRecord:
    return EventRecord(
        id=str(uuid.uuid4()), source="eduframe", educator="acme", tenant_id="t", event_type=event_type,
        payload={"event_data": data}, status="processing", status_reason=None, attempts=1,
        next_attempt_at=None, last_error=None, last_error_class=None, received_at=NOW, updated_at=NOW,
    )  # fmt: skip


def test_order_not_approved_is_ignored(world: World, ctx: HandlerContext) -> None:
    httpx.post(world.eduframe + "/_sandbox/seed",
               json={"orders": [{"id": world.small_order_id, "status": "requested",
                                 "catalog_variant_id": 301, "order_items": []}]})  # fmt: skip
    result = order_approved(event("order.approved", id=world.small_order_id), ctx)
    assert result == HandlerResult.ignored(f"order {world.small_order_id} is requested, not approved")


def test_denied_order_eduhook_never_enrolled_touches_nothing(world: World, ctx: HandlerContext) -> None:
    order = world.seed.records["orders"][world.small_order_id] | {"status": "denied"}
    httpx.post(world.eduframe + "/_sandbox/seed", json={"orders": [order]})
    result = order_withdrawn(event("order.denied", id=world.small_order_id), ctx)
    assert result == HandlerResult.ignored("nothing eduhook created for this order")
    assert world.calls(world.pennfoster, LEARNERS + "/cancel") == []


def test_a_deletion_undoes_what_its_enrollment_made_once_eduframe_confirms(
    world: World, ctx: HandlerContext
) -> None:
    assert order_approved(event("order.approved", id=world.small_order_id), ctx) == HandlerResult()
    enrollment_id = world.enrollments_of(world.small_order_id)[0]
    record = world.seed.records["enrollments"][enrollment_id]
    hint = {key: record[key] for key in ("id", "student_id", "planned_course_id", "order_id")}
    still_there = enrollment_deleted(event("enrollment.deleted", **hint), ctx)
    assert still_there == HandlerResult.ignored(f"enrollment {enrollment_id} still exists in Eduframe")
    # An id Eduframe does not know, naming this student: nothing this enrollment made matches it.
    forged = hint | {"id": 999_999, "order_id": None}
    assert enrollment_deleted(event("enrollment.deleted", **forged), ctx) == HandlerResult.ignored(
        "no matching effect"
    )
    assert world.calls(world.pennfoster, LEARNERS + "/cancel") == []

    assert httpx.delete(f"{world.eduframe}/_sandbox/records/enrollments/{enrollment_id}").status_code == 200
    assert enrollment_deleted(event("enrollment.deleted", **hint), ctx) == HandlerResult()
    [cancel] = world.calls(world.pennfoster, LEARNERS + "/cancel")
    assert cancel["body"]["program_id"] == "NUR01105"
    # Again: the effect is cancelled, nothing is left to undo and no second request goes out.
    again = enrollment_deleted(event("enrollment.deleted", **hint), ctx)
    assert again == HandlerResult.ignored("no matching effect")
    assert len(world.calls(world.pennfoster, LEARNERS + "/cancel")) == 1


def test_event_without_an_id_is_permanent(world: World, ctx: HandlerContext) -> None:
    with pytest.raises(PermanentError, match=r"event_data\.id is missing or not an id"):
        order_approved(event("order.approved", id="abc"), ctx)


def test_a_forged_payload_enrolls_only_the_real_orders_students(world: World, ctx: HandlerContext) -> None:
    real = world.seed.records["orders"][world.small_order_id]["order_items"]
    forged = event(
        "order.approved", id=world.small_order_id, status="approved",
        order_items=[{"student_id": s} for s in world.students[:5]], students=world.students[:5],
    )  # fmt: skip
    assert order_approved(forged, ctx) == HandlerResult()
    created = {
        item["learner_info"]["alternate_id"]
        for call in world.calls(world.pennfoster, LEARNERS)
        for item in call["body"]
    }
    real_ids = {item["student_id"] if isinstance(item, dict) else item for item in real}
    assert created == {f"eduframe:acme:{student}" for student in real_ids}
    assert not {f"eduframe:acme:{student}" for student in world.students[:5]} & created


def catalog_reads(world: World) -> int:
    requests = httpx.get(world.eduframe + "/_sandbox/requests").json()
    return sum(1 for r in requests if r["method"] == "GET" and r["path"].startswith("/catalog/variants/"))


@pytest.mark.parametrize(("cache_seconds", "reads"), [(300.0, 1), (0.0, 2)])
def test_catalog_reads_are_cached_for_the_configured_time(
    world: World, eduhook_settings: Settings, cache_seconds: float, reads: int
) -> None:
    settings = eduhook_settings.model_copy(update={"eduframe_cache_seconds": cache_seconds})
    ctx = HandlerContext(settings=settings, engine=create_engine_for(settings.effective_database_url))
    for order_id in (world.small_order_id, world.order_25_id):  # both for the same catalog variant
        assert order_approved(event("order.approved", id=order_id), ctx) == HandlerResult()
    assert catalog_reads(world) == reads


def test_one_learner_refused_by_appsembler_fails_only_that_learners_enrollment(
    world: World, ctx: HandlerContext
) -> None:
    refused = world.seed.records["orders"][world.small_order_id]["order_items"][0]
    student = refused["student_id"] if isinstance(refused, dict) else refused
    email = world.seed.records["users"][student]["email"]
    httpx.post(world.appsembler + "/_sandbox/identifier-errors", json={"identifiers": [email]})
    with pytest.raises(PermanentError) as failure:
        order_approved(event("order.approved", id=world.small_order_id), ctx)
    assert f"bulk enroll of Eduframe user {student}" in str(failure.value) and email not in str(failure.value)
    assert failure.value.partner == "appsembler"
    assert len(world.calls(world.pennfoster, LEARNERS)) == 1  # Penn Foster got all three, in one batch
