"""Payload redaction by allowlist: only values under keys known to be safe are shown."""

from __future__ import annotations

from eduhook.redact import REDACTED, redact


def test_nested_values_are_redacted_and_ids_statuses_and_dates_kept() -> None:
    payload = {
        "event": "order.approved",
        "event_data": {
            "id": 17,
            "customer": {"first_name": "Jane", "email": "jane@example.com", "phone_number": "+31 6 1234"},
            "students": [{"id": 3, "date_of_birth": "1990-01-01", "address": {"city": "Utrecht"}}],
            "payment": {"iban": "NL00BANK0123456789"},
            "course_name": "Nursing 101",
            "middle_name": None,
            "status": "approved",
            "created_at": "2026-01-01T00:00:00Z",
            "student_ids": [3, 4],
            "paid": True,
        },
    }
    out = redact(payload)
    data = out["event_data"]
    assert (data["id"], data["status"], data["created_at"], data["student_ids"]) == (
        17, "approved", "2026-01-01T00:00:00Z", [3, 4],
    )  # fmt: skip
    assert data["customer"] == {"first_name": REDACTED, "email": REDACTED, "phone_number": REDACTED}
    assert data["students"] == [{"id": 3, "date_of_birth": REDACTED, "address": {"city": REDACTED}}]
    assert data["payment"] == {"iban": REDACTED}
    assert (data["course_name"], data["middle_name"], data["paid"]) == ("Nursing 101", None, True)
    assert "jane" not in str(out).lower()


# Every personal key a hostile review put in one payload: Dutch, abbreviated, or just unexpected.
PERSONAL = {
    "voornaam": "Jan", "achternaam": "Jansen", "telefoon": "0612345678", "geboortedatum": "1990-02-03",
    "bsn": 123456782, "initials": "J.J.", "login": "jjansen", "email": "jan@example.nl",
    "woonplaats": "Utrecht", "postcode": "3511AB", "huisnummer": 12, "iban": "NL91ABNA0417164300",
    "nationality": "NL", "gender": "m", "salutation": "Dhr.", "username": "jan", "remarks": "allergic",
}  # fmt: skip


def test_every_key_not_known_to_be_safe_is_redacted_whatever_its_language() -> None:
    out = redact({"event_data": {"id": 9, "student": dict(PERSONAL)}})
    assert out["event_data"]["id"] == 9
    assert out["event_data"]["student"] == dict.fromkeys(PERSONAL, REDACTED)
    shown = str(out)
    assert not [value for value in PERSONAL.values() if len(str(value)) > 3 and str(value) in shown]


def test_a_bare_scalar_is_redacted_and_lists_take_their_key() -> None:
    assert redact("jan@example.nl") == REDACTED
    assert redact({"emails": ["a@b.c", "d@e.f"], "order_ids": [1, 2]}) == {
        "emails": [REDACTED, REDACTED],
        "order_ids": [1, 2],
    }
