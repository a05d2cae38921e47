"""Typed Eduframe resources as the API returns them: orders, enrollments, users, catalog and courses.

Each model declares only the fields eduhook acts on, typed as Eduframe's published OpenAPI
description types them (``partner-docs/eduframe-openapi.json``). Anything else Eduframe sends is
kept as an extra field and never validated, so a field eduhook does not use cannot reject a
response. A field eduhook acts on has no default unless the spec lets it be absent: its absence
is a ``PartnerDataError`` naming the field and the record ("get order 5: unexpected response
shape (order_items missing)"). Personal fields (names, emails, addresses, custom fields) are kept
out of ``repr``; extra fields are too, because we cannot know what they hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class Address(EduframeModel):
    """A postal address; every part of it is personal data. Penn Foster mappings say which part
    they require, so each may be absent here."""

    addressee: str | None = Field(default=None, repr=False)
    address: str | None = Field(default=None, repr=False)
    address_line2: str | None = Field(default=None, repr=False)
    postal_code: str | None = Field(default=None, repr=False)
    city: str | None = Field(default=None, repr=False)
    country: str | None = Field(default=None, repr=False)
    state_province: str | None = Field(default=None, repr=False)


class OrderItem(EduframeModel):
    student_id: int


class Order(EduframeModel):
    """``GET /orders/{id}``: one order for one catalog variant, one item per student."""

    id: int
    status: OrderStatus
    catalog_variant_id: int
    # The spec's OrderWithIncludes may leave it out; without it we cannot know whom to enroll.
    order_items: list[OrderItem]

    @property
    def student_ids(self) -> list[int]:
        """The students on this order, in order, without duplicates."""
        return list(dict.fromkeys(item.student_id for item in self.order_items))


class Enrollment(EduframeModel):
    """``GET /enrollments/{id}``: one student on one planned course."""

    id: int
    student_id: int
    planned_course_id: int
    # Required but nullable in the spec: null is an enrollment without an order.
    order_id: int | None
    status: EnrollmentStatus


class User(EduframeModel):
    """``GET /users/{id}``. Eduframe has no phone, birth date or gender: those live in ``custom``."""

    id: int
    first_name: str | None = Field(default=None, repr=False)
    middle_name: str | None = Field(default=None, repr=False)
    last_name: str | None = Field(default=None, repr=False)
    email: str | None = Field(default=None, repr=False)
    address: Address | None = Field(default=None, repr=False)
    custom: dict[str, Any] = Field(default_factory=dict, repr=False)

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
    product_id: int
    variantable_type: VariantableType
    variantable_id: int

    @property
    def catalog_product_id(self) -> int:
        """The API calls it ``product_id`` here and ``catalog_product_id`` on leads."""
        return self.product_id


class PlannedCourse(EduframeModel):
    """``GET /planned_courses/{id}``: one run of a course. Only its course matters to routing."""

    id: int
    course_id: int


class Course(EduframeModel):
    """``GET /courses/{id}``: ``code`` is what routes map to partner programs."""

    id: int
    code: str
