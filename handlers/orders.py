"""``order.*`` events: approved orders enroll their students; canceled or denied ones undo that."""

from __future__ import annotations

from eduhook.ledger import EventRecord
from handlers.cancelling import cancel
from handlers.context import HandlerContext
from handlers.enrolling import enroll
from handlers.events_data import resource_id
from handlers.registry import HandlerRegistry, HandlerResult
from handlers.services import services_for

APPROVED = frozenset({"active", "approved"})
UNDONE = frozenset({"canceled", "denied"})


def order_approved(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    svc = services_for(ctx)
    order = svc.eduframe.get_order(resource_id(event))  # event_data is a hint: Eduframe decides
    if order.status not in APPROVED:
        return HandlerResult.ignored(f"order {order.id} is {order.status}, not approved")
    route = svc.routes.match(svc.offering_for_order(order))
    if route is None:
        return HandlerResult.ignored("no route")
    students = [item.student_id for item in order.order_items]
    if not students:
        return HandlerResult.ignored(f"order {order.id} has no students")
    enroll(svc, event, route, students)
    return HandlerResult()


def order_withdrawn(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    """``order.canceled`` / ``order.denied``: undo what eduhook created for the order's students."""
    svc = services_for(ctx)
    order = svc.eduframe.get_order(resource_id(event))
    if order.status not in UNDONE:
        return HandlerResult.ignored(f"order {order.id} is {order.status}, not canceled or denied")
    route = svc.routes.match(svc.offering_for_order(order))
    if route is None:
        return HandlerResult.ignored("no route")
    undone = cancel(svc, event, route, [item.student_id for item in order.order_items])
    if not undone:
        return HandlerResult.ignored("nothing eduhook created for this order")
    return HandlerResult()


def register(registry: HandlerRegistry) -> None:
    registry.register("order.approved", order_approved)
    registry.register("order.canceled", order_withdrawn)
    registry.register("order.denied", order_withdrawn)
