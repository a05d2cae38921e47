"""Hides personal and payment data in payloads before they are shown or logged."""

from __future__ import annotations

from typing import Any

REDACTED = "[redacted]"

# A key is personal when its lower-cased name contains one of these fragments.
_PERSONAL = (
    "name", "email", "mail", "phone", "mobile", "birth", "dob", "gender", "address", "street",
    "house_number", "postal", "zip", "city", "iban", "bic", "card", "cvv", "cvc", "payment",
    "account_number", "routing", "bank", "ssn", "social_security", "passport", "password",
    "token", "secret", "comment", "note",
)  # fmt: skip
# Keys personal as a whole: Eduframe's custom fields hold phone numbers and birth dates.
_EXACT = frozenset({"custom", "custom_fields", "customfields"})
# Keys that contain a fragment above but hold no personal data.
_SAFE = frozenset(
    {
        "course_name",
        "program_name",
        "product_name",
        "variant_name",
        "event",
        "educator",
        "tenant_id",
        "catalog_product_name",
        "planned_course_name",
        "username_hint",
    }
)


def is_personal(key: str) -> bool:
    lowered = key.lower()
    if lowered in _EXACT:
        return True
    return lowered not in _SAFE and any(fragment in lowered for fragment in _PERSONAL)


def redact(value: Any) -> Any:
    """A copy of ``value`` with every personal field's value replaced by ``[redacted]``."""
    if isinstance(value, dict):
        return {
            key: (REDACTED if is_personal(str(key)) and value[key] not in (None, "") else redact(value[key]))
            for key in value
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value
