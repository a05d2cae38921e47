"""``order.*`` events: approved orders enroll their students; canceled or denied ones undo that."""

from __future__ import annotations

from eduhook.ledger import EventRecord
from handlers import withdrawals
from handlers.cancelling import cancel
from handlers.context import HandlerContext
from handlers.effects import EffectRecord, Source
from handlers.enrolling import enroll, verdict
from handlers.events_data import resource_id
from handlers.partners.eduframe.models import CatalogVariant, Order
from handlers.registry import HandlerRegistry, HandlerResult
from handlers.services import Services, services_for

APPROVED = frozenset({"active", "approved"})
UNDONE = frozenset({"canceled", "denied"})


def gone(order_id: int) -> HandlerResult:
    return HandlerResult.ignored(f"order {order_id} no longer exists in Eduframe")


def source_of(order: Order, variant: CatalogVariant) -> Source:
    planned_course_id = variant.variantable_id if variant.variantable_type == "PlannedCourse" else None
    return Source("order", None, order.id, planned_course_id)


def order_approved(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    svc = services_for(ctx)
    order = svc.eduframe.find_order(resource_id(event))  # event_data is a hint: Eduframe decides
    if order is None:
        return gone(resource_id(event))
    if order.status not in APPROVED:
        return HandlerResult.ignored(f"order {order.id} is {order.status}, not approved")
    variant = svc.variant(order.catalog_variant_id)
    route = svc.routes.match(svc.offering_for_order(order, variant))
    if route is None:
        return HandlerResult.ignored("no route")
    students = [item.student_id for item in order.order_items]
    if not students:
        return HandlerResult.ignored(f"order {order.id} has no students")
    return verdict(enroll(svc, event, route, students, source_of(order, variant)), "order")


def order_withdrawn(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    """``order.canceled`` / ``order.denied``: undo what this order made for its students, except
    for students Eduframe still shows enrolled in the course through another enrollment."""
    svc = services_for(ctx)
    order = svc.eduframe.find_order(resource_id(event))
    if order is None:
        return gone(resource_id(event))
    if order.status not in UNDONE:
        return HandlerResult.ignored(f"order {order.id} is {order.status}, not canceled or denied")
    variant = svc.variant(order.catalog_variant_id)
    route = svc.routes.match(svc.offering_for_order(order, variant))
    made = withdrawals.recorded(
        svc, event.educator, order.student_ids,
        lambda effect: withdrawals.made_for_order(effect, order.id), f"order {order.id}",
    )  # fmt: skip
    if not made:
        return HandlerResult.ignored("nothing eduhook created for this order")
    source = source_of(order, variant)
    undo = _not_enrolled_otherwise(svc, made, order.id, source.planned_course_id)
    if not undo:
        return HandlerResult.ignored(withdrawals.STILL_ENROLLED)
    cancel(svc, event, undo, source, route=route)
    return HandlerResult()


def _not_enrolled_otherwise(
    svc: Services, made: list[EffectRecord], order_id: int, planned_course_id: int | None
) -> list[EffectRecord]:
    """The effects whose student has no live enrollment in the course besides this order's; the
    others now answer to that enrollment."""
    if planned_course_id is None:
        return made
    undo: list[EffectRecord] = []
    for student in dict.fromkeys(effect.key.subject for effect in made):
        effects = [effect for effect in made if effect.key.subject == student]
        other = withdrawals.other_live_enrollment(
            svc, int(student), planned_course_id, besides=lambda e: e.order_id != order_id
        )
        if other is None:
            undo += effects
        else:
            withdrawals.keep_for(svc, effects, other)
    return undo


def register(registry: HandlerRegistry) -> None:
    registry.register("order.approved", order_approved)
    registry.register("order.canceled", order_withdrawn)
    registry.register("order.denied", order_withdrawn)
