"""Eduframe webhooks and leads as typed records: subscriptions, delivery log, lead requests and results."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from handlers.partners.eduframe.models import Address, EduframeModel, LeadStatus

NotificationStatus = Literal["pending", "retry", "succeeded", "failed"]


class Webhook(EduframeModel):
    """``POST /webhooks`` and ``GET /webhooks/{id}``: a URL subscribed to events.

    The spec requires only ``id``. The URL carries eduhook's receiver token, so it is kept out of
    ``repr``.
    """

    id: str
    url: str | None = Field(default=None, repr=False)
    active: bool | None = None
    events: list[str] = []


class SendAttempt(EduframeModel):
    """One delivery attempt: our receiver's status code and (start of) its body.

    ``created_at`` is a plain string in the spec ("2024-09-02 09:00:00 UTC" is one), so it stays
    one: eduhook only shows it.
    """

    status_code: int | None = None
    response: str | None = None
    created_at: str | None = None


class WebhookNotification(EduframeModel):
    """``GET /webhooks/{id}/notifications``: one event's delivery to one webhook."""

    id: str
    event_id: str
    status: NotificationStatus
    data: dict[str, Any] = Field(default_factory=dict, repr=False)
    send_attempts: list[SendAttempt] = []

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
    """``GET /leads/{id}``, and the answer to ``POST /leads`` (201).

    ``lead_products`` may be absent in the spec, but it is what routes a lead, so its absence is
    an error rather than "no products". ``user_id`` links the Eduframe user whose custom fields
    hold the birth date and gender Penn Foster needs.
    """

    id: int
    user_id: int | None = None
    first_name: str | None = Field(default=None, repr=False)
    middle_name: str | None = Field(default=None, repr=False)
    last_name: str | None = Field(default=None, repr=False)
    email: str | None = Field(default=None, repr=False)
    phone: str | None = Field(default=None, repr=False)
    address: Address | None = Field(default=None, repr=False)
    lead_products: list[LeadProduct]
