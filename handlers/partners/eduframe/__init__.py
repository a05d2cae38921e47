"""Eduframe: the source of webhooks, and the API handlers re-read before acting on any of them."""

from __future__ import annotations

from handlers.partners.eduframe.client import MAX_PER_PAGE, EduframeClient
from handlers.partners.eduframe.errors import PARTNER, raise_for_response
from handlers.partners.eduframe.models import (
    Address,
    CatalogVariant,
    Course,
    Enrollment,
    EnrollmentStatus,
    Order,
    OrderItem,
    OrderStatus,
    PlannedCourse,
    User,
    VariantableType,
)
from handlers.partners.eduframe.webhooks import (
    AddressInput,
    FailedWebhookNotification,
    Lead,
    LeadCreate,
    LeadProduct,
    SendAttempt,
    Webhook,
    WebhookNotification,
)

__all__ = [
    "MAX_PER_PAGE",
    "PARTNER",
    "Address",
    "AddressInput",
    "CatalogVariant",
    "Course",
    "EduframeClient",
    "Enrollment",
    "EnrollmentStatus",
    "FailedWebhookNotification",
    "Lead",
    "LeadCreate",
    "LeadProduct",
    "Order",
    "OrderItem",
    "OrderStatus",
    "PlannedCourse",
    "SendAttempt",
    "User",
    "VariantableType",
    "Webhook",
    "WebhookNotification",
    "raise_for_response",
]
