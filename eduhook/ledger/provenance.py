"""What made an effect (its provenance), and whether a cancelled effect may be made again.

Every effect records the Eduframe resource it answers: an order, an enrollment, or an
enrollment's transfer to another planned course, with the ids known. Withdrawals pick the effects
to undo by it, and a cancellation records the one that undid it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

import sqlalchemy as sa

SourceKind = Literal["order", "enrollment", "transfer"]


@dataclass(frozen=True)
class Source:
    """What in Eduframe an effect answers: an order, an enrollment, or an enrollment's transfer."""

    kind: SourceKind
    enrollment_id: int | None = None
    order_id: int | None = None
    planned_course_id: int | None = None

    def same_resource(self, other: Source) -> bool:
        """Whether both are about one enrollment or one order; an order's enrollments belong to it."""
        if self.enrollment_id is not None and self.enrollment_id == other.enrollment_id:
            return True
        if self.kind == "order" and self.order_id is not None and self.order_id == other.order_id:
            return True
        return other.kind == "order" and other.order_id is not None and other.order_id == self.order_id

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def may_renew(cancellation: Mapping[str, Any] | None, source: Source) -> bool:
    """Whether an event about ``source`` makes a cancelled effect again (its next generation).

    Not when the event is about the enrollment or order whose cancellation undid it: that is a
    redelivery or a replay. A transfer is different: moving an enrollment back is a new placement.
    A cancellation whose cause is unknown (recorded before provenance was) never blocks.
    """
    undone_by = (cancellation or {}).get("source")
    if not isinstance(undone_by, dict):
        return True
    by = Source(**undone_by)
    return by.kind == "transfer" or not by.same_resource(source)


def source_from_row(row: sa.RowMapping) -> Source | None:
    """The provenance columns of an ``effects`` row; ``None`` for one recorded before them."""
    if row["source_kind"] is None:
        return None
    return Source(
        row["source_kind"],
        row["source_enrollment_id"],
        row["source_order_id"],
        row["source_planned_course_id"],
    )


def source_values(source: Source | None) -> dict[str, Any]:
    if source is None:
        return {}
    return {
        "source_kind": source.kind,
        "source_enrollment_id": source.enrollment_id,
        "source_order_id": source.order_id,
        "source_planned_course_id": source.planned_course_id,
    }
