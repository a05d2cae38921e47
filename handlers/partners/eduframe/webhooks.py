"""Eduframe webhooks and leads as typed records: subscriptions, delivery log, lead requests and results."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from handlers.partners.eduframe.models import Address, EduframeModel, LeadStatus

NotificationStatus = Literal["pending", "retry", "succeeded", "failed"]


class Webhook(EduframeModel):
    """``POST /webhooks`` and ``GET /webhooks/{id}``: a URL subscribed to events.

    The URL carries eduhook's receiver token, so it is kept out of ``repr``.
    """

    id: str
    url: str | None = Field(default=None, repr=False)
    active: bool = True
    events: list[str] = []
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SendAttempt(EduframeModel):
    """One delivery attempt: our receiver's status code and (start of) its body."""

    status_code: int | None = None
    response: str | None = None
    created_at: datetime | None = None


class WebhookNotification(EduframeModel):
    """``GET /webhooks/{id}/notifications``: one event's delivery to one webhook."""

    id: str
    event_id: str
    status: NotificationStatus
    data: dict[str, Any] = Field(default_factory=dict, repr=False)
    send_attempts: list[SendAttempt] = []
    created_at: datetime | None = None

    @property
    def event(self) -> str | None:
        """The event name inside the delivered payload (``order.approved``…)."""
        value = self.data.get("event")
        return value if isinstance(value, str) else None


class FailedWebhookNotification(EduframeModel):
    """``GET /webhooks/{id}/notifications/failed``: a delivery Eduframe gave up on."""

    id: str
    event_id: str
    webhook_id: str
    status: Literal["failed"] = "failed"
    data: dict[str, Any] = Field(default_factory=dict, repr=False)
    created_at: datetime | None = None


class LeadProduct(EduframeModel):
    catalog_product_id: int
    catalog_variant_id: int | None = None


class AddressInput(EduframeModel):
    """``address_attributes`` on a new lead; ``address``, ``postal_code``, ``city``, ``country`` required."""

    address: str = Field(repr=False)
    postal_code: str = Field(repr=False)
    city: str = Field(repr=False)
    country: str = Field(repr=False)
    address_line2: str | None = Field(default=None, repr=False)
    addressee: str | None = Field(default=None, repr=False)
    state_province: str | None = Field(default=None, repr=False)


class LeadCreate(EduframeModel):
    """The body of ``POST /leads``. ``phone`` must be international unless in the educator's country."""

    first_name: str | None = Field(default=None, repr=False)
    middle_name: str | None = Field(default=None, repr=False)
    last_name: str | None = Field(default=None, repr=False)
    email: str | None = Field(default=None, repr=False)
    phone: str | None = Field(default=None, repr=False)
    company_name: str | None = None
    title: str | None = None
    status: LeadStatus = "prospect"
    comment: str | None = Field(default=None, repr=False)
    wants_newsletter: bool | None = None
    label_ids: list[int] | None = None
    address_attributes: AddressInput | None = Field(default=None, repr=False)
    lead_products: list[LeadProduct] = []

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class Lead(EduframeModel):
    """A lead as Eduframe returns it after ``POST /leads`` (201)."""

    id: int
    status: str | None = None
    first_name: str | None = Field(default=None, repr=False)
    middle_name: str | None = Field(default=None, repr=False)
    last_name: str | None = Field(default=None, repr=False)
    email: str | None = Field(default=None, repr=False)
    phone: str | None = Field(default=None, repr=False)
    address: Address | None = Field(default=None, repr=False)
    lead_products: list[LeadProduct] = []
    created_at: datetime | None = None
