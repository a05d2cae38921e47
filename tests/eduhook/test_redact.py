"""Personal fields are redacted wherever they sit in a payload."""

from __future__ import annotations

from eduhook.redact import REDACTED, redact


def test_nested_personal_fields_are_redacted_and_ids_kept() -> None:
    payload = {
        "event": "order.approved",
        "event_data": {
            "id": 17,
            "customer": {"first_name": "Jane", "email": "jane@example.com", "phone_number": "+31 6 1234"},
            "students": [{"id": 3, "date_of_birth": "1990-01-01", "address": {"city": "Utrecht"}}],
            "payment": {"iban": "NL00BANK0123456789"},
            "course_name": "Nursing 101",
            "middle_name": None,
        },
    }
    out = redact(payload)
    data = out["event_data"]
    assert data["id"] == 17
    assert data["customer"] == {"first_name": REDACTED, "email": REDACTED, "phone_number": REDACTED}
    assert data["students"] == [{"id": 3, "date_of_birth": REDACTED, "address": REDACTED}]
    assert data["payment"] == REDACTED
    assert data["course_name"] == "Nursing 101"
    assert data["middle_name"] is None
    assert "jane" not in str(out).lower()
