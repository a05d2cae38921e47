"""Typed answers of the Appsembler (Tahoe) API; unknown extra fields from the partner are ignored.

Bulk enrollment answers carry, per course, one result per identifier in one of three shapes, each
parsed into its own class (together: ``IdentifierResult``):

    EnrollmentChange   {"identifier", "before": {...}, "after": {...}}   the call was applied
    InvalidIdentifier  {"identifier", "invalidIdentifier": true}          not a known user, not an email
    IdentifierError    {"identifier", "error": true}                      Appsembler failed on this one

Usernames, emails and identifiers are personal and kept out of reprs; enrollment codes are
vouchers anyone can redeem, so they are kept out too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

BulkAction = Literal["enroll", "unenroll"]
CodeAction = Literal["cancel", "restore"]


class AppsemblerModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class AppsemblerUser(AppsemblerModel):
    """``GET accounts/get-user/<username>``: Appsembler only confirms the username exists."""

    username: str = Field(repr=False)


class EnrollmentState(AppsemblerModel):
    """Open edX's view of one identifier in one course, before or after the call."""

    user: bool
    enrollment: bool
    allowed: bool
    auto_enroll: bool


class EnrollmentChange(AppsemblerModel):
    """The action was applied; ``before == after`` when it changed nothing (a re-enroll)."""

    identifier: str = Field(repr=False)
    before: EnrollmentState
    after: EnrollmentState
    ok: Literal[True] = True

    @property
    def enrolled(self) -> bool:
        return self.after.enrollment

    @property
    def allowed(self) -> bool:
        """No account yet: Open edX remembers the email and enrolls it on registration (auto_enroll)."""
        return self.after.allowed and not self.after.enrollment

    @property
    def changed(self) -> bool:
        return self.before != self.after


class InvalidIdentifier(AppsemblerModel):
    """Neither an existing user nor a valid email address; retrying cannot help."""

    identifier: str = Field(repr=False)
    ok: Literal[False] = False


class IdentifierError(AppsemblerModel):
    """Appsembler hit an unexpected error for this identifier; the others may have succeeded."""

    identifier: str = Field(repr=False)
    ok: Literal[False] = False


def _result_kind(value: Any) -> str:
    if isinstance(value, dict):
        if value.get("invalidIdentifier"):
            return "invalid_identifier"
        if value.get("error"):
            return "error"
        return "change"
    if isinstance(value, InvalidIdentifier):
        return "invalid_identifier"
    if isinstance(value, IdentifierError):
        return "error"
    return "change"


IdentifierResult = Annotated[
    Annotated[EnrollmentChange, Tag("change")]
    | Annotated[InvalidIdentifier, Tag("invalid_identifier")]
    | Annotated[IdentifierError, Tag("error")],
    Discriminator(_result_kind),
]


class CourseEnrollmentResult(AppsemblerModel):
    """The results for one course of a bulk call, in the order Appsembler processed identifiers."""

    course_id: str
    action: BulkAction
    auto_enroll: bool = False
    results: tuple[IdentifierResult, ...]

    def for_identifier(self, identifier: str) -> IdentifierResult | None:
        return next((r for r in self.results if r.identifier == identifier), None)


class BulkEnrollmentResult(AppsemblerModel):
    """``POST bulk-enrollment/bulk-enroll``: the whole answer, courses keyed by course key."""

    action: BulkAction
    auto_enroll: bool = False
    email_students: bool = False
    courses: dict[str, CourseEnrollmentResult]

    @model_validator(mode="before")
    @classmethod
    def _course_ids_from_keys(cls, data: Any) -> Any:
        # Appsembler keys each course's block by its course key; copy it in so a block stands alone.
        if isinstance(data, dict) and isinstance(data.get("courses"), dict):
            courses = {
                key: {**block, "course_id": key} if isinstance(block, dict) else block
                for key, block in data["courses"].items()
            }
            return {**data, "courses": courses}
        return data

    def result(self, course_id: str, identifier: str) -> IdentifierResult | None:
        course = self.courses.get(course_id)
        return course.for_identifier(identifier) if course else None

    def failures(self) -> list[tuple[str, IdentifierResult]]:
        """(course key, result) for every identifier that was invalid or errored."""
        return [(key, r) for key, course in self.courses.items() for r in course.results if not r.ok]


class EnrollmentCodes(AppsemblerModel):
    """``POST enrollment-codes/generate``."""

    course_id: str
    codes: tuple[str, ...] = Field(repr=False)
    course_url: str


class AccountRecord(AppsemblerModel):
    """One row of ``GET analytics/accounts/batch``."""

    id: int
    username: str = Field(repr=False)
    email: str = Field(repr=False)
    is_active: bool
    date_joined: datetime


class EnrollmentRecord(AppsemblerModel):
    """One row of ``GET analytics/enrollment/batch``."""

    enrollment_id: int
    user_id: int
    username: str = Field(repr=False)
    course_id: str
    date_enrolled: datetime
