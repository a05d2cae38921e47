"""Which effects an Eduframe withdrawal undoes: chosen by provenance, never by the event's payload.

Every effect records the order or enrollment that made it (``Source``). A canceled, deleted or
moved enrollment undoes only effects that enrollment made (or its order made, before the
enrollment's own event was seen), and only while Eduframe shows the student no other live
enrollment in that planned course. A forged or stale payload naming someone else therefore finds
nothing to undo. Effects still being made are waited for (a transient failure), so a withdrawal
that overtakes the enrollment it withdraws is not lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from handlers.cancelling import undoable
from handlers.effects import CLAIMED, DONE, EffectRecord, Source
from handlers.errors import TransientError
from handlers.partners.eduframe.models import Enrollment
from handlers.services import Services

LIVE = frozenset({"confirmed", "active"})
NO_MATCH = "no matching effect"
STILL_ENROLLED = "student still enrolled"


def source_of(enrollment: Enrollment) -> Source:
    return Source("enrollment", enrollment.id, enrollment.order_id, enrollment.planned_course_id)


def made_for_enrollment(effect: EffectRecord, enrollment: Enrollment, *, any_course: bool = False) -> bool:
    """Whether ``enrollment`` (or its order) made ``effect``; on its planned course unless ``any_course``.

    An effect recorded before provenance existed has no source: the student and the target
    decide, as they did then, and the live-enrollment check still applies.
    """
    source = effect.source
    if source is None:
        return True
    if not any_course and source.planned_course_id not in (None, enrollment.planned_course_id):
        return False
    if source.enrollment_id is not None:
        return source.enrollment_id == enrollment.id
    return enrollment.order_id is not None and source.order_id == enrollment.order_id


def made_for_order(effect: EffectRecord, order_id: int) -> bool:
    return effect.source is None or effect.source.order_id == order_id


def recorded(
    svc: Services, educator: str, students: Iterable[int], made_for: Callable[[EffectRecord], bool], what: str
) -> list[EffectRecord]:
    """The done effects ``made_for`` picks among these students' latest generations.

    Raises ``TransientError`` while any of them is still being made: the withdrawal is retried
    once that settles, instead of finding nothing and letting the enrollment finish after it. A
    claim whose lease ran out lost its worker and is not waited for.
    """
    found = [
        effect
        for effect in svc.effects.latest(educator=educator, subjects=[str(s) for s in students])
        if undoable(effect) and made_for(effect)
    ]
    now = svc.effects.clock()
    pending = sum(
        1 for e in found if e.state == CLAIMED and e.lease_until is not None and e.lease_until > now
    )
    if pending:
        raise TransientError(f"{what}: {pending} of its partner effects are still being made; undo after")
    return [effect for effect in found if effect.state == DONE]


def other_live_enrollment(
    svc: Services, student_id: int, planned_course_id: int, *, besides: Callable[[Enrollment], bool]
) -> Enrollment | None:
    """A live enrollment of the student in the planned course that ``besides`` accepts, if any."""
    live = svc.eduframe.list_enrollments(
        student_id=student_id, planned_course_id=planned_course_id, with_canceled=False
    )
    return next((e for e in live if e.status in LIVE and besides(e)), None)


def keep_for(svc: Services, effects: list[EffectRecord], enrollment: Enrollment) -> None:
    """The student is still enrolled through ``enrollment``: its effects now answer to it, so its
    own cancellation undoes them later."""
    svc.effects.move(effects, source_of(enrollment))
