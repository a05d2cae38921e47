"""Penn Foster answers: per-item results, learner records and pages, organizations, cancel requests."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, Field, field_validator, model_validator

from handlers.partners.pennfoster.fields import RequestModel, ResponseModel, text


def _id_text(value: Any) -> Any:
    # Ids arrive as numbers in some examples and strings in others; we keep them as strings.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


class PartnerErrorItem(ResponseModel):
    error_code: str
    # Partner text may quote what was sent ("... processed by: <user>"): never in reprs or messages.
    message: str = Field("", repr=False)


class LearnerResult(ResponseModel):
    """One element of the ``POST /learners`` answer, in the order the learners were sent."""

    enrollment_status: str
    order_number: str | None = None
    # v4's example says learner_id, its table and v1 say student_id: both land here.
    student_id: str | None = Field(None, validation_alias=AliasChoices("learner_id", "student_id"))
    reference_id: str | None = None
    errors: list[PartnerErrorItem] = []

    _ids = field_validator("order_number", "student_id", "reference_id", mode="before")(_id_text)

    @property
    def status(self) -> str:
        return self.enrollment_status

    @property
    def error_codes(self) -> list[str]:
        return [error.error_code for error in self.errors]


class LeadResult(ResponseModel):
    """One element of the ``POST /leads`` answer."""

    lead_status: str
    lead_id: str | None = None
    errors: list[PartnerErrorItem] = []

    _ids = field_validator("lead_id", mode="before")(_id_text)

    @property
    def status(self) -> str:
        return self.lead_status

    @property
    def error_codes(self) -> list[str]:
        return [error.error_code for error in self.errors]


class LearnerRecord(ResponseModel):
    """A learner as the lookups return it."""

    organization_id: int | None = None
    location_id: int | None = None
    client_id: int | None = None
    student_id: str | None = Field(None, validation_alias=AliasChoices("learner_id", "student_id"))
    alternate_id: str | None = None
    first_name: str | None = Field(None, repr=False)
    last_name: str | None = Field(None, repr=False)
    email_address: str | None = Field(None, repr=False)
    program_id: str | None = None
    program_name: str | None = None
    active_status: str | None = None  # Active, Inactive, Graduated, Canceled
    date_enrolled: str | None = None
    date_last_active: str | None = None
    date_completed: str | None = None
    expiration_date: str | None = None

    _ids = field_validator("student_id", "program_id", mode="before")(_id_text)


class LearnerPage(ResponseModel):
    """One page of a learner listing; ``results`` normalised to a list."""

    page_number: int = 1
    page_count: int = 1
    record_count: int = 0
    results: list[LearnerRecord] = []

    @field_validator("results", mode="before")
    @classmethod
    def _as_list(cls, value: Any) -> Any:
        # v1 keys results by student id, the v2 example shows bare objects, others send a list.
        if value is None:
            return []
        if isinstance(value, dict):
            if any(key in value for key in ("learner_id", "student_id", "organization_id")):
                return [value]
            return list(value.values())
        return value


class OrganizationAddress(ResponseModel):
    address_1: str | None = None
    address_2: str | None = None
    address_3: str | None = None
    address_4: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class OrganizationClient(ResponseModel):
    organization_id: int
    location_id: int
    client_id: int
    type: str | None = None
    name: str | None = None
    status: str | None = None
    address: OrganizationAddress | None = None


class OrganizationLocation(ResponseModel):
    organization_id: int
    location_id: int
    type: str | None = None
    name: str | None = None
    status: str | None = None
    address: OrganizationAddress | None = None
    clients: list[OrganizationClient] = []


class Organization(ResponseModel):
    """The organization tree; the location/client lookups return it narrowed to that branch."""

    organization_id: int
    type: str | None = None
    name: str | None = None
    status: str | None = None
    address: OrganizationAddress | None = None
    locations: list[OrganizationLocation] = []
    errors: list[PartnerErrorItem] = []


class CancelRequest(RequestModel):
    """``POST /learners/cancel``: by ``student_id``, or by ``alternate_id`` plus ``program_id``."""

    organization_id: int | None = Field(None, ge=0, le=99_999_999)
    location_id: int | None = Field(None, ge=0, le=99_999_999)
    client_id: int | None = Field(None, ge=0, le=99_999_999)
    student_id: str | None = text(8)
    alternate_id: str | None = text(75)
    program_id: str | None = text(15)  # 8 in the cancel table; 15 like every other program_id

    @model_validator(mode="after")
    def _one_key(self) -> CancelRequest:
        if not self.student_id and not self.alternate_id:
            raise ValueError("a cancel request needs student_id or alternate_id")
        if self.alternate_id and not self.student_id and not self.program_id:
            raise ValueError("a cancel request by alternate_id needs program_id")
        return self


class CancelResult(ResponseModel):
    """Penn Foster's receipt for a cancel request; the cancellation itself happens later."""

    resource_id: int | None = None
    organization_id: int | None = None
    location_id: int | None = None
    client_id: int | None = None
    student_id: str | None = None
    alternate_id: str | None = None
    program_id: str | None = None

    _ids = field_validator("student_id", "program_id", mode="before")(_id_text)
