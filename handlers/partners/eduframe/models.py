"""Typed Eduframe resources as the API returns them: orders, enrollments, users, catalog and courses.

Eduframe documents most fields as required but leaves many of them ``null`` in practice and adds
fields over time, so every model allows extra fields and gives defaults to everything we do not act
on. Personal fields (names, emails, addresses, custom fields) are kept out of ``repr``; extra fields
are too, because we cannot know what they hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

OrderStatus = Literal["requested", "active", "denied", "canceled"]
EnrollmentStatus = Literal["confirmed", "active", "canceled", "completed"]
VariantableType = Literal["PlannedCourse", "Program::Edition"]
LeadStatus = Literal["prospect", "waiting_list", "won", "lost", "archive"]


class EduframeModel(BaseModel):
    """Base of every Eduframe record: unknown fields are kept but never shown in ``repr``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        extra = self.model_extra or {}
        for name, value in super().__repr_args__():
            if name not in extra:
                yield name, value


def date_part(value: Any) -> Any:
    """Planned-course dates are documented as plain strings; accept a timestamp by keeping its date."""
    if isinstance(value, str) and len(value) > 10 and value[10] in "T ":
        return value[:10]
    return value


class Address(EduframeModel):
    """A postal address; every part of it is personal data."""

    addressee: str | None = Field(default=None, repr=False)
    address: str | None = Field(default=None, repr=False)
    address_line2: str | None = Field(default=None, repr=False)
    postal_code: str | None = Field(default=None, repr=False)
    city: str | None = Field(default=None, repr=False)
    country: str | None = Field(default=None, repr=False)
    state_province: str | None = Field(default=None, repr=False)


class OrderItem(EduframeModel):
    id: int | None = None
    order_id: int | None = None
    student_id: int


class Order(EduframeModel):
    """``GET /orders/{id}``: one order for one catalog variant, one item per student."""

    id: int
    number: int | None = None
    status: OrderStatus
    catalog_variant_id: int
    account_id: int | None = None
    creator_id: int | None = None
    number_of_students: int | None = None
    order_items: list[OrderItem] = []
    label_ids: list[int] = []
    custom: dict[str, Any] = Field(default_factory=dict, repr=False)
    updated_at: datetime | None = None
    created_at: datetime | None = None

    @property
    def student_ids(self) -> list[int]:
        """The students on this order, in order, without duplicates."""
        return list(dict.fromkeys(item.student_id for item in self.order_items))


class Enrollment(EduframeModel):
    """``GET /enrollments/{id}``: one student on one planned course."""

    id: int
    student_id: int
    planned_course_id: int
    order_id: int | None = None
    status: EnrollmentStatus
    start_date: date | None = None
    end_date: date | None = None
    graduation_state: str | None = None
    updated_at: datetime | None = None
    created_at: datetime | None = None

    _dates = field_validator("start_date", "end_date", mode="before")(date_part)


class User(EduframeModel):
    """``GET /users/{id}``. Eduframe has no phone, birth date or gender: those live in ``custom``."""

    id: int
    first_name: str | None = Field(default=None, repr=False)
    middle_name: str | None = Field(default=None, repr=False)
    last_name: str | None = Field(default=None, repr=False)
    email: str | None = Field(default=None, repr=False)
    locale: str | None = None
    roles: list[str] = []
    student_number: str | None = None
    address: Address | None = Field(default=None, repr=False)
    custom: dict[str, Any] = Field(default_factory=dict, repr=False)
    updated_at: datetime | None = None
    created_at: datetime | None = None

    def custom_value(self, key: str) -> str | None:
        """A custom field as text, or ``None`` when it is absent or blank."""
        value = self.custom.get(key)
        if value is None:
            return None
        text = str(value).strip()
        return text or None


class CatalogVariant(EduframeModel):
    """``GET /catalog/variants/{id}``: what an order buys, pointing at a planned course or an edition."""

    id: int
    product_id: int | None = None
    name: str | None = None
    sku: str | None = None
    variantable_type: VariantableType
    variantable_id: int
    is_published: bool | None = None
    custom: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def catalog_product_id(self) -> int | None:
        """The API calls it ``product_id`` here and ``catalog_product_id`` on leads."""
        return self.product_id


class PlannedCourse(EduframeModel):
    """``GET /planned_courses/{id}``: one run of a course, with dates."""

    id: int
    course_id: int
    status: str | None = None
    type: str | None = None
    start_date: date | None = None
    end_date: date | None = None
    is_published: bool | None = None

    _dates = field_validator("start_date", "end_date", mode="before")(date_part)


class Course(EduframeModel):
    """``GET /courses/{id}``: ``code`` is what routes map to partner programs."""

    id: int
    code: str | None = None
    name: str | None = None
    slug: str | None = None
    is_published: bool | None = None
