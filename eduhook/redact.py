"""Hides personal and payment data in payloads before they are shown or logged.

By allowlist: a value is shown only under a key known to hold no personal data (ids, statuses,
types, timestamps, counts, course names). Every other string or number is replaced by
``[redacted]``, whatever the key is called; payloads arrive in Dutch as often as in English
(``voornaam``, ``telefoon``, ``bsn``), and no list of personal words is ever complete.
Booleans, ``null`` and empty strings are shown: they carry no personal value.
"""

from __future__ import annotations

from typing import Any

REDACTED = "[redacted]"

_SAFE_KEYS = frozenset(
    {
        "id", "ids", "event", "educator", "tenant_id", "status", "state", "type", "kind", "action",
        "number", "quantity", "count", "currency", "locale", "start_date", "end_date",
        "course_name", "program_name", "product_name", "variant_name", "planned_course_name",
        "catalog_product_name", "program_id", "product_code",
    }
)  # fmt: skip
_SAFE_SUFFIXES = ("_id", "_ids", "_at", "_status", "_type", "_count")


def is_safe(key: str) -> bool:
    """True when a value under ``key`` may be shown as it is."""
    lowered = key.lower()
    return lowered in _SAFE_KEYS or lowered.endswith(_SAFE_SUFFIXES)


def redact(value: Any, *, key: str | None = None) -> Any:
    """A copy of ``value`` with every scalar not under a safe key replaced by ``[redacted]``.

    ``key`` is the key ``value`` sits under; the top level has none, so a bare scalar is redacted.
    """
    if isinstance(value, dict):
        return {k: redact(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item, key=key) for item in value]
    if value is None or isinstance(value, bool) or value == "":
        return value
    return value if key is not None and is_safe(key) else REDACTED
