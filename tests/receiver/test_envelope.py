"""Envelope parsing, dedup keys, token checks and log redaction: pure functions."""

from __future__ import annotations

import logging

import pytest

from receiver.auth import token_accepted
from receiver.envelope import EnvelopeError, parse_envelope
from receiver.logging import RedactTokenFilter, redact_query


def _doc(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "tenant_id": "t",
        "educator": "acme",
        "event": "order.approved",
        "event_data": {"id": 1, "email": "a@b.c"},
    }
    return base | changes


def test_dedup_key_ignores_key_order_but_not_content() -> None:
    one = parse_envelope(_doc(event_data={"id": 1, "status": "active"}))
    same = parse_envelope(_doc(event_data={"status": "active", "id": 1}))
    other = parse_envelope(_doc(event_data={"status": "active", "id": 2}))
    other_type = parse_envelope(_doc(event="order.denied", event_data={"id": 1, "status": "active"}))
    assert one.dedup_key == same.dedup_key
    assert len({one.dedup_key, other.dedup_key, other_type.dedup_key}) == 3


def test_every_bad_field_is_named() -> None:
    with pytest.raises(EnvelopeError) as caught:
        parse_envelope({"tenant_id": None, "educator": "x" * 200, "event_data": "nope"})
    assert caught.value.fields == {
        "tenant_id": "must be a non-empty string",
        "educator": "must be at most 128 characters",
        "event": "is required",
        "event_data": "must be an object",
    }


def test_repr_hides_event_data() -> None:
    assert "a@b.c" not in repr(parse_envelope(_doc()))


def test_token_accepted_against_any_rotated_token() -> None:
    accepted = [b"old-token", b"new-token"]
    assert token_accepted(b"new-token", accepted)
    assert token_accepted(b"old-token", accepted)
    assert not token_accepted(b"new-toke", accepted)
    assert not token_accepted(None, accepted)
    assert not token_accepted(b"anything", [])


def test_access_log_line_hides_the_token() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", "/webhooks/eduframe?a=1&token=s3cret&b=2", "1.1", 202),
        None,
    )
    RedactTokenFilter().filter(record)
    assert "s3cret" not in record.getMessage()
    assert "/webhooks/eduframe?a=1&token=[redacted]&b=2" in record.getMessage()
    assert redact_query("?TOKEN=abc") == "?TOKEN=[redacted]"
