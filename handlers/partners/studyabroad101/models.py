"""Typed StudyAbroad101 records: leads, reviews and review answers as the partner returns them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

_PARTNER_DATE = "%m/%d/%Y"


def parse_partner_date(value: Any) -> Any:
    """``created_at_string`` is ``MM/DD/YYYY``; dates and ISO strings pass through to pydantic."""
    if isinstance(value, str) and value.count("/") == 2:
        try:
            return datetime.strptime(value, _PARTNER_DATE).date()
        except ValueError as exc:
            raise ValueError("created_at_string is not MM/DD/YYYY") from exc
    return value


def parse_yes_no(value: Any) -> Any:
    """The partner sends flags as ``"Yes"``/``"No"``; an empty string means not requested."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("yes", "true", "1"):
            return True
        if word in ("no", "false", "0", ""):
            return False
        raise ValueError("expected Yes or No")
    return value


class _PartnerRecord(BaseModel):
    # Fields the partner adds later must not break polling.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Lead(_PartnerRecord):
    """One lead (an information request or an application) for one of our programs."""

    id: int
    email: str | None = Field(default=None, repr=False)
    name: str | None = Field(default=None, repr=False)
    university: str | None = None
    comment: str | None = Field(default=None, repr=False)
    address: str | None = Field(default=None, repr=False)
    study_period: str | None = None
    program_id: int | None = None
    program_name: str | None = None
    program_link: str | None = None
    created_at: date = Field(validation_alias=AliasChoices("created_at_string", "created_at"))
    catalog_requested: bool = False
    phone_call_requested: bool = False
    phone_number: str | None = Field(default=None, repr=False)
    lead_type: Literal["Info", "Application"]

    _parse_created = field_validator("created_at", mode="before")(parse_partner_date)
    _parse_flags = field_validator("catalog_requested", "phone_call_requested", mode="before")(parse_yes_no)


class Review(_PartnerRecord):
    """One published review of a program; the reviewer is not identified in it."""

    id: int
    university_name: str | None = None
    title: str | None = None
    start_date: str | None = None
    end_date: str | None = None
    return_again: str | bool | None = None
    knowledge_gained: str | None = None
    program_id: int | None = None
    program_name: str | None = None
    program_link: str | None = None
    created_at: date = Field(validation_alias=AliasChoices("created_at_string", "created_at"))
    rating: float | None = None
    admin_rating: float | None = None

    _parse_created = field_validator("created_at", mode="before")(parse_partner_date)


class ReviewAnswer(_PartnerRecord):
    """One answer of a review; the partner documents only an empty list, so every field is kept as sent."""

    id: int | None = None
    question: str | None = None
    answer: str | None = None
