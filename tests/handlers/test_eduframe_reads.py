"""Eduframe reads through real worker processes: an order and its enrollments cost about two per learner.

Eduframe sends ``order.approved`` and then one ``enrollment.created`` per student. The order and
each enrollment are re-read (the fetch-back rule), each user is read once, and the catalog
(variant, planned course, course) once for all workers, however many threads start cold at once.
The sandbox records every request; these tests count its GETs per path.
"""

from __future__ import annotations

import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis

from eduhook.ledger import create_engine_for
from eduhook.settings import Settings
from handlers.context import HandlerContext
from handlers.errors import TransientError
from handlers.orders import order_approved
from handlers.registry import HandlerResult
from tests.handlers.conftest import LEARNERS, World
from tests.handlers.test_e2e import StartWorker, finished, webhook
from tests.handlers.test_handlers import event

ORDER, ENROLLMENT, USER = "/orders/{id}", "/enrollments/{id}", "/users/{id}"
VARIANT, PLANNED, COURSE = "/catalog/variants/{id}", "/planned_courses/{id}", "/courses/{id}"


def eduframe_reads(world: World) -> Counter[str]:
    """GETs the Eduframe sandbox answered, by path with the ids taken out."""
    requests = httpx.get(world.eduframe + "/_sandbox/requests").json()
    return Counter(re.sub(r"/\d+", "/{id}", r["path"]) for r in requests if r["method"] == "GET")


def route_by_product(settings: Settings, world: World) -> None:
    """The test's route matches the order's catalog product, so enrollments need their order's variant."""
    assert settings.config is not None
    variant = world.seed.records["orders"][world.order_25_id]["catalog_variant_id"]
    product = world.seed.records["catalog_variants"][variant]["product_id"]
    config = Path(settings.config)
    config.write_text(
        config.read_text().replace('course_code = "PF-NURSE"', f"catalog_product_id = {product}")
    )


def purchase(receiver_url: str, world: World, order_id: int) -> list[str]:
    """``order.approved`` and then every ``enrollment.created`` of the order, as Eduframe sends them."""
    first = webhook(receiver_url, "order.approved", id=order_id)
    with ThreadPoolExecutor(8) as pool:
        rest = list(pool.map(lambda e: webhook(receiver_url, "enrollment.created", id=e),
                             world.enrollments_of(order_id)))  # fmt: skip
    return [first, *rest]


@pytest.mark.parametrize("matcher", ["course_code", "catalog_product_id"])
def test_an_order_and_its_enrollments_cost_about_two_reads_per_learner(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker, matcher: str
) -> None:
    if matcher == "catalog_product_id":
        route_by_product(eduhook_settings, world)
    for _ in range(2):
        start_worker("-c", "4")
    results = finished(eduhook_settings, *purchase(receiver_url, world, world.order_25_id), timeout=120)
    assert [e.status for e in results] == ["succeeded"] * 26, [e.last_error for e in results]
    learners = [item for call in world.calls(world.pennfoster, LEARNERS) for item in call["body"]]
    assert len(learners) == 25

    reads = eduframe_reads(world)
    # An enrollment event finding its order's variant before the order event stored it reads the
    # order once for all of them; otherwise the order is read only by its own event.
    orders = reads.pop(ORDER)
    assert orders == 1 if matcher == "course_code" else orders in (1, 2)
    assert reads == {ENROLLMENT: 25, USER: 25, VARIANT: 1, PLANNED: 1, COURSE: 1}
    warm = orders + reads[ENROLLMENT] + reads[USER]  # what each further purchase of the course costs
    assert warm / 25 <= 2.1


def test_the_catalog_cache_in_redis_holds_no_personal_data(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker()
    results = finished(eduhook_settings, *purchase(receiver_url, world, world.small_order_id))
    assert {e.status for e in results} == {"succeeded"}
    records = world.seed.records
    students = [records["enrollments"][e]["student_id"] for e in world.enrollments_of(world.small_order_id)]
    users = [records["users"][s] for s in students]
    personal = [str(u[field]) for u in users for field in ("id", "email", "first_name", "last_name")]
    store = redis.Redis.from_url(eduhook_settings.redis_url or "", decode_responses=True)
    catalog = list(store.scan_iter("eduhook:eduframe:catalog:*"))
    assert {key.split(":")[-2] for key in catalog} == {"CatalogVariant", "PlannedCourse", "Course",
                                                       "OrderVariant"}  # fmt: skip
    stored = " ".join(str(store.get(key)) for key in catalog)
    keys = " ".join(store.scan_iter())
    store.close()
    for value in personal:
        assert not re.search(rf"\b{re.escape(value)}\b", stored), "a user in the catalog cache"
        assert not re.search(rf"(?<![\w.]){re.escape(value)}(?![\w.])", keys), "a user in a Redis key"


@pytest.mark.parametrize(("user_cache_seconds", "user_reads"), [(60.0, 3), (0.0, 6)])
def test_a_retry_within_a_minute_reads_its_users_from_the_worker_not_eduframe(
    world: World, eduhook_settings: Settings, user_cache_seconds: float, user_reads: int
) -> None:
    settings = eduhook_settings.model_copy(update={"eduframe_user_cache_seconds": user_cache_seconds})
    ctx = HandlerContext(settings=settings, engine=create_engine_for(settings.effective_database_url))
    outage = {"kind": "status", "status": 503, "count": 1, "path": LEARNERS, "method": "POST"}
    httpx.post(world.pennfoster + "/_sandbox/faults", json=outage).raise_for_status()
    approved = event("order.approved", id=world.small_order_id)
    with pytest.raises(TransientError):
        order_approved(approved, ctx)
    assert order_approved(approved, ctx) == HandlerResult()
    assert len(world.calls(world.pennfoster, LEARNERS)) == 2
    reads = eduframe_reads(world)
    assert (reads[ORDER], reads[USER]) == (2, user_reads)  # the order itself is always re-read
    ctx.engine.dispose()
