"""``enrollment.*`` events: a new enrollment enrolls its student; a canceled or deleted one undoes it."""

from __future__ import annotations

from eduhook.ledger import EventRecord
from handlers.cancelling import cancel
from handlers.context import HandlerContext
from handlers.enrolling import enroll
from handlers.errors import PermanentError
from handlers.events_data import int_field, resource_id
from handlers.partners.eduframe.models import Enrollment
from handlers.registry import HandlerRegistry, HandlerResult
from handlers.routes import Route
from handlers.services import Services, services_for

ACTIVE = frozenset({"confirmed", "active"})


def _route(svc: Services, planned_course_id: int, order_id: int | None) -> Route | None:
    product = None
    if order_id is not None and svc.routes_use_products:
        # The enrollment was just re-read; its order only says which product it was bought as.
        product = svc.offering_for_variant(svc.variant_of_order(order_id)).catalog_product_id
    return svc.routes.match(svc.offering_for_planned_course(planned_course_id, product))


def enrollment_created(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    svc = services_for(ctx)
    enrollment = svc.eduframe.get_enrollment(resource_id(event))
    if enrollment.status not in ACTIVE:
        return HandlerResult.ignored(f"enrollment {enrollment.id} is {enrollment.status}")
    route = _route(svc, enrollment.planned_course_id, enrollment.order_id)
    if route is None:
        return HandlerResult.ignored("no route")
    enroll(svc, event, route, [enrollment.student_id])
    return HandlerResult()


def enrollment_updated(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    svc = services_for(ctx)
    enrollment = svc.eduframe.get_enrollment(resource_id(event))
    if enrollment.status != "canceled":
        return HandlerResult.ignored(f"enrollment {enrollment.id} is {enrollment.status}; nothing to undo")
    return _undo(svc, event, enrollment)


def enrollment_deleted(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    """The enrollment is gone from Eduframe, so its student and course come from ``event_data``;
    Eduframe must confirm the deletion, and only effects eduhook recorded can be undone."""
    svc = services_for(ctx)
    enrollment_id = resource_id(event)
    try:
        still_there = svc.eduframe.get_enrollment(enrollment_id)
    except PermanentError as exc:
        if exc.status_code != 404:
            raise
    else:
        if still_there.status != "canceled":
            return HandlerResult.ignored(f"enrollment {enrollment_id} still exists in Eduframe")
        return _undo(svc, event, still_there)
    gone = Enrollment(
        id=enrollment_id,
        student_id=int_field(event.data, "student_id", event),
        planned_course_id=int_field(event.data, "planned_course_id", event),
        order_id=None,
        status="canceled",
    )
    return _undo(svc, event, gone)


def _undo(svc: Services, event: EventRecord, enrollment: Enrollment) -> HandlerResult:
    route = _route(svc, enrollment.planned_course_id, enrollment.order_id)
    if route is None:
        return HandlerResult.ignored("no route")
    if not cancel(svc, event, route, [enrollment.student_id]):
        return HandlerResult.ignored("nothing eduhook created for this enrollment")
    return HandlerResult()


def register(registry: HandlerRegistry) -> None:
    registry.register("enrollment.created", enrollment_created)
    registry.register("enrollment.updated", enrollment_updated)
    registry.register("enrollment.deleted", enrollment_deleted)
