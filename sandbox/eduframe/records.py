"""Eduframe records in the API's JSON shape: defaults that make a partial record schema-complete."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

# Fixed so seeds are deterministic; records created at runtime use the sandbox clock instead.
SEED_TIMESTAMP = "2024-09-02T09:00:00.000Z"

KINDS = (
    "courses",
    "planned_courses",
    "catalog_variants",
    "users",
    "orders",
    "enrollments",
    "leads",
)

# Ids start in a different range per kind so that a user id passed as an order id fails loudly.
FIRST_IDS = {
    "courses": 101,
    "planned_courses": 201,
    "catalog_variants": 301,
    "catalog_products": 401,
    "users": 1001,
    "orders": 5001,
    "enrollments": 7001,
    "leads": 9001,
}

# The event prefix in a webhook names the collection its ``event_data`` comes from.
EVENT_KINDS = {
    "order": "orders",
    "enrollment": "enrollments",
    "user": "users",
    "lead": "leads",
    "planned_course": "planned_courses",
    "course": "courses",
    "catalog_variant": "catalog_variants",
}

WEBHOOK_EVENTS = frozenset(
    f"{resource}.{action}"
    for resource, actions in {
        "account": "created deleted updated",
        "catalog_variant": "created deleted updated",
        "category": "created deleted updated",
        "course": "created deleted updated",
        "course_location": "created deleted updated",
        "course_variant": "created deleted updated",
        "custom_field_option": "created deleted updated",
        "custom_record": "created deleted updated",
        "educator": "created deleted updated",
        "enrollment": "created deleted updated",
        "invoice": "created deleted updated",
        "invoice_vat": "created deleted updated",
        "label": "created deleted updated",
        "lead": "created deleted updated",
        "meeting": "created deleted updated teacher_attendees_changed",
        "meeting_location": "created deleted updated",
        "order": "approved canceled created deleted denied updated",
        "payment": "created deleted updated",
        "planned_course": "canceled created deleted updated teacher_attendees_changed",
        "planning_event": "created deleted updated teacher_attendees_changed",
        "product": "created deleted updated",
        "program": "created deleted updated",
        "program_edition": "created deleted updated",
        "program_enrollment": "cancel created graduation_revoked pass updated",
        "teacher": "created deleted updated",
        "teacher_role": "created deleted updated",
        "user": "created deleted merged updated",
    }.items()
    for action in actions.split()
)

_US_STATE_CODES = (
    "AL AK AZ AR CA CO CT DC DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
)
US_STATES = frozenset(_US_STATE_CODES.split())

_STAMPS = {"updated_at": SEED_TIMESTAMP, "created_at": SEED_TIMESTAMP}

DEFAULTS: dict[str, dict[str, Any]] = {
    "courses": {
        "name": "Course", "code": "COURSE", "slug": "course", "slug_history": [], "position": 0,
        "starting_price": "0.0", "signup_url": "", "avatar": "", "avatar_url": "", "avatar_thumb_url": "",
        "conditions_or_default": None, "website_url": None, "certificate_template_id": None,
        "category_id": 1, "duration": None, "level": None, "meta_title": None, "meta_description": None,
        "result": None, "label_ids": [], "cost": None, "cost_scheme": "order", "is_published": True,
        "custom": {}, **_STAMPS,
    },
    "planned_courses": {
        "status": "planned", "type": "FixedPlannedCourse", "start_date": "2025-01-06", "end_date": None,
        "duration_in_days": None, "availability_state": "open", "payable": True, "current_participants": 0,
        "confirmed_active_and_completed_enrollments_count": 0, "requested_enrollments_count": 0,
        "available_places": True, "canvas_link": None, "currency": "USD", "cost_multiplier": None,
        "is_published": True, "min_participants": None, "max_participants": None, "cost_scheme": "order",
        "cost": None, "course_variant_id": None, "course_location_id": None, **_STAMPS,
    },
    "catalog_variants": {
        "name": "Variant", "sku": None, "cost_scheme": "order", "cost": None, "currency": "USD",
        "variantable_type": "PlannedCourse", "availability": "available", "available_places": 0,
        "is_published": True, "show_on_website": True, "custom": {}, "custom_associations": [], **_STAMPS,
    },
    "users": {
        "first_name": "", "middle_name": None, "last_name": "", "email": "", "avatar_url": "",
        "roles": ["student"], "notes_user": None, "description": None, "label_ids": [],
        "employee_number": None, "student_number": None, "teacher_headline": None,
        "teacher_description": None, "teacher_enrollments_count": 0, "locale": "en", "slug": "",
        "wants_newsletter": False, "custom": {}, **_STAMPS,
    },
    "orders": {
        "number": 0, "status": "requested", "number_of_students": 0, "origin": "api",
        "customer_comment": None, "total_cost_excl": None, "total_cost_incl": None, "cost": None,
        "cost_scheme": "order", "creator_id": None, "account_id": 1, "payment_method_id": None,
        "payment_option_id": None, "label_ids": [], "discount_code": None, "total_discount": None,
        "referral_id": None, "custom": {}, "order_items": [], **_STAMPS,
    },
    "enrollments": {
        "order_id": None, "start_date": "2025-01-06", "end_date": None, "status": "confirmed",
        "graduation_state": "awaiting_judgement", "grade": None, **_STAMPS,
    },
    "leads": {
        "creation_method": "api", "referral_text": None, "title": "", "account_id": None, "user_id": None,
        "label_ids": [], "value": None, "company_name": None, "first_name": None, "middle_name": None,
        "last_name": None, "administrator_id": None, "email": None, "phone": None, "quality": None,
        "status": "prospect", "wants_newsletter": False, "lead_products": [], **_STAMPS,
    },
}  # fmt: skip


def iso(timestamp: float) -> str:
    """Eduframe's timestamp format: ``yyyy-MM-ddTHH:mm:ss.SSSZ``."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(value: str) -> float:
    """A timestamp from an ISO 8601 string (``Z`` or an offset; naive means UTC)."""
    moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def complete(kind: str, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with every documented field present; values given win over defaults."""
    full = {"id": record.get("id"), **copy.deepcopy(DEFAULTS[kind]), **record}
    if kind == "orders":
        items = []
        for index, item in enumerate(full["order_items"]):
            entry = {"student_id": item} if isinstance(item, int) else dict(item)
            entry.setdefault("id", full["id"] * 100 + index + 1)
            entry.setdefault("order_id", full["id"])
            entry.setdefault("created_at", full["created_at"])
            entry.setdefault("updated_at", full["updated_at"])
            items.append(entry)
        full["order_items"] = items
        full["number_of_students"] = full.get("number_of_students") or len(items)
        full["number"] = full.get("number") or full["id"]
    if kind == "catalog_variants":
        full.setdefault("product_id", full["id"] + 100)
    if kind == "courses" and not full["slug"]:
        full["slug"] = str(full["code"]).lower()
    if kind == "users" and not full["slug"]:
        full["slug"] = f"user-{full['id']}"
    return full
