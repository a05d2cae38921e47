"""``enrollment.*`` events: a new enrollment enrolls its student; a moved one follows its new course;
a canceled or deleted one undoes what it made.

Eduframe's own record decides: every event re-reads its enrollment, and one that Eduframe no
longer has is ignored, whichever order the events come in. Only a deletion, whose enrollment is
gone, reads its student and course from ``event_data``; those then only select among effects the
ledger says that enrollment made (see ``handlers.withdrawals``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from eduhook.ledger import EventRecord
from handlers import withdrawals
from handlers.cancelling import cancel
from handlers.context import HandlerContext
from handlers.effects import EffectRecord, Source
from handlers.enrolling import enroll, planned_keys, verdict
from handlers.errors import PermanentError
from handlers.events_data import int_field, optional_int_field, resource_id
from handlers.partners.eduframe.models import Enrollment
from handlers.registry import HandlerRegistry, HandlerResult
from handlers.routes import Route
from handlers.services import Services, services_for

ACTIVE = withdrawals.LIVE


def gone(enrollment_id: int) -> HandlerResult:
    return HandlerResult.ignored(f"enrollment {enrollment_id} no longer exists in Eduframe")


def _route(svc: Services, planned_course_id: int, order_id: int | None) -> Route | None:
    product = None
    if order_id is not None and svc.routes_use_products:
        # The enrollment was just re-read; its order only says which product it was bought as.
        variant_id = svc.variant_of_order(order_id)
        product = svc.offering_for_variant(variant_id).catalog_product_id if variant_id else None
    return svc.routes.match(svc.offering_for_planned_course(planned_course_id, product))


def enrollment_created(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    svc = services_for(ctx)
    enrollment = svc.eduframe.find_enrollment(resource_id(event))
    if enrollment is None:
        return gone(resource_id(event))
    if enrollment.status not in ACTIVE:
        return HandlerResult.ignored(f"enrollment {enrollment.id} is {enrollment.status}")
    route = _route(svc, enrollment.planned_course_id, enrollment.order_id)
    if route is None:
        return HandlerResult.ignored("no route")
    source = withdrawals.source_of(enrollment)
    return verdict(enroll(svc, event, route, [enrollment.student_id], source), "enrollment")


def enrollment_updated(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    """Canceled: undo. Active: follow the enrollment to its planned course (a transfer)."""
    svc = services_for(ctx)
    enrollment = svc.eduframe.find_enrollment(resource_id(event))
    if enrollment is None:
        return gone(resource_id(event))
    if enrollment.status == "canceled":
        return _withdraw(svc, event, enrollment)
    if enrollment.status not in ACTIVE:
        return HandlerResult.ignored(f"enrollment {enrollment.id} is {enrollment.status}; nothing to change")
    return _place(svc, event, enrollment)


def enrollment_deleted(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    """Eduframe must confirm the deletion (404, or the enrollment canceled). The student and course
    in ``event_data`` are then only a hint: they select among the effects this enrollment made."""
    svc = services_for(ctx)
    enrollment_id = resource_id(event)
    still_there = svc.eduframe.find_enrollment(enrollment_id)
    if still_there is not None:
        if still_there.status != "canceled":
            return HandlerResult.ignored(f"enrollment {enrollment_id} still exists in Eduframe")
        return _withdraw(svc, event, still_there)
    hint = Enrollment(
        id=enrollment_id,
        student_id=int_field(event.data, "student_id", event),
        planned_course_id=int_field(event.data, "planned_course_id", event),
        order_id=optional_int_field(event.data, "order_id", event),
        status="canceled",
    )
    return _withdraw(svc, event, hint)


def _withdraw(svc: Services, event: EventRecord, enrollment: Enrollment) -> HandlerResult:
    """Undo what this enrollment made, unless Eduframe shows the student still enrolled."""
    made = withdrawals.recorded(
        svc, event.educator, [enrollment.student_id],
        lambda effect: withdrawals.made_for_enrollment(effect, enrollment), f"enrollment {enrollment.id}",
    )  # fmt: skip
    if not made:
        return HandlerResult.ignored(withdrawals.NO_MATCH)
    other = withdrawals.other_live_enrollment(
        svc, enrollment.student_id, enrollment.planned_course_id, besides=lambda e: e.id != enrollment.id
    )
    if other is not None:
        withdrawals.keep_for(svc, made, other)
        return HandlerResult.ignored(withdrawals.STILL_ENROLLED)
    route = _undo_route(svc, enrollment.planned_course_id, enrollment.order_id)
    cancel(svc, event, made, withdrawals.source_of(enrollment), route=route)
    return HandlerResult()


def _place(svc: Services, event: EventRecord, enrollment: Enrollment) -> HandlerResult:
    """A transfer: undo what the enrollment made for targets its new course does not route to,
    leave the targets both courses share, and make what the new course adds."""
    route = _route(svc, enrollment.planned_course_id, enrollment.order_id)
    wanted = set(planned_keys(route, event.educator, [enrollment.student_id])) if route else set()
    made = withdrawals.recorded(
        svc, event.educator, [enrollment.student_id],
        lambda effect: withdrawals.made_for_enrollment(effect, enrollment, any_course=True),
        f"enrollment {enrollment.id}",
    )  # fmt: skip
    moved = [effect for effect in made if effect.key not in wanted]
    kept = [effect for effect in made if effect.key in wanted and _elsewhere(effect, enrollment)]
    undone = _undo_moved(svc, event, enrollment, moved)
    withdrawals.keep_for(svc, kept, enrollment)
    if route is None:
        return HandlerResult() if undone else HandlerResult.ignored("no route")
    outcome = enroll(svc, event, route, [enrollment.student_id], withdrawals.source_of(enrollment))
    if undone or outcome.sent:
        return HandlerResult()
    if outcome.done:
        return HandlerResult.ignored(f"enrollment {enrollment.id} is {enrollment.status}; nothing to change")
    return verdict(outcome, "enrollment")


def _elsewhere(effect: EffectRecord, enrollment: Enrollment) -> bool:
    source = effect.source
    return source is not None and source.planned_course_id not in (None, enrollment.planned_course_id)


def _undo_moved(
    svc: Services, event: EventRecord, enrollment: Enrollment, moved: Sequence[EffectRecord]
) -> int:
    """Undo, per planned course the effects were made for, unless the student is still enrolled
    there another way; returns how many were undone."""
    by_course: dict[int | None, list[EffectRecord]] = defaultdict(list)
    for effect in moved:
        by_course[effect.source.planned_course_id if effect.source else None].append(effect)
    transfer = Source("transfer", enrollment.id, enrollment.order_id, enrollment.planned_course_id)
    undone = 0
    for planned_course_id, effects in by_course.items():
        if planned_course_id is not None:
            other = withdrawals.other_live_enrollment(
                svc, enrollment.student_id, planned_course_id, besides=lambda e: e.id != enrollment.id
            )
            if other is not None:
                withdrawals.keep_for(svc, effects, other)
                continue
        route = _undo_route(svc, planned_course_id, enrollment.order_id) if planned_course_id else None
        undone += cancel(svc, event, effects, transfer, route=route)
    return undone


def _undo_route(svc: Services, planned_course_id: int, order_id: int | None) -> Route | None:
    """The route effects of this course were made on, if Eduframe can still tell; without it the
    cancellation finds a route by target."""
    try:
        return _route(svc, planned_course_id, order_id)
    except PermanentError as exc:
        if exc.status_code == 404:
            return None
        raise


def register(registry: HandlerRegistry) -> None:
    registry.register("enrollment.created", enrollment_created)
    registry.register("enrollment.updated", enrollment_updated)
    registry.register("enrollment.deleted", enrollment_deleted)
