"""Parsing and checking Eduframe's webhook envelope; pure functions, no I/O."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

_LIMITS = {"tenant_id": 64, "educator": 128, "event": 128}


class EnvelopeError(ValueError):
    """The body is JSON but not a valid envelope; ``fields`` says what is wrong with which field."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("invalid envelope: " + ", ".join(sorted(fields)))
        self.fields = fields


@dataclass(frozen=True)
class Envelope:
    tenant_id: str
    educator: str
    event: str
    event_data: dict[str, Any]
    raw: dict[str, Any]

    def __repr__(self) -> str:  # event_data carries personal data
        return f"Envelope(educator={self.educator!r}, event={self.event!r})"

    @property
    def dedup_key(self) -> str:
        """Same educator, event type and event_data → same key, however the JSON was laid out."""
        digest = hashlib.sha256()
        digest.update(self.educator.encode())
        digest.update(b"\x00")
        digest.update(self.event.encode())
        digest.update(b"\x00")
        digest.update(orjson.dumps(self.event_data, option=orjson.OPT_SORT_KEYS))
        return digest.hexdigest()


def parse_envelope(document: Any) -> Envelope:
    """Check a decoded JSON document; raises ``EnvelopeError`` naming every bad field."""
    if not isinstance(document, dict):
        raise EnvelopeError({"body": "must be a JSON object"})
    problems: dict[str, str] = {}
    for name, limit in _LIMITS.items():
        value = document.get(name)
        if name not in document:
            problems[name] = "is required"
        elif not isinstance(value, str) or not value.strip():
            problems[name] = "must be a non-empty string"
        elif len(value) > limit:
            problems[name] = f"must be at most {limit} characters"
    if "event_data" not in document:
        problems["event_data"] = "is required"
    elif not isinstance(document["event_data"], dict):
        problems["event_data"] = "must be an object"
    if problems:
        raise EnvelopeError(problems)
    return Envelope(
        tenant_id=document["tenant_id"],
        educator=document["educator"],
        event=document["event"],
        event_data=document["event_data"],
        raw=document,
    )
