"""Parsing and checking Eduframe's webhook envelope; pure functions, no I/O."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

from eduhook.ledger.dedup import dedup_key

_LIMITS = {"tenant_id": 64, "educator": 128, "event": 128}
# Objects and arrays nested deeper than this are refused: real Eduframe bodies nest about 6
# levels, and deep documents cost recursion in every later encoder (orjson stops at 255).
MAX_DEPTH = 64


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
        """Same tenant, educator, event type and event_data → same key, however laid out."""
        return dedup_key(
            tenant_id=self.tenant_id, educator=self.educator, event=self.event, event_data=self.event_data
        )


def parse_envelope(document: Any) -> Envelope:
    """Check a decoded JSON document; raises ``EnvelopeError`` naming every bad field."""
    if not isinstance(document, dict):
        raise EnvelopeError({"body": "must be a JSON object"})
    if nesting_depth(document, stop_after=MAX_DEPTH) > MAX_DEPTH:
        raise EnvelopeError({"body": f"must not nest objects and arrays deeper than {MAX_DEPTH} levels"})
    problems: dict[str, str] = {}
    for name, limit in _LIMITS.items():
        problem = _string_problem(document, name, limit)
        if problem:
            problems[name] = problem
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


def _string_problem(document: dict[str, Any], name: str, limit: int) -> str | None:
    if name not in document:
        return "is required"
    value = document[name]
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    if len(value) > limit:
        return f"must be at most {limit} characters"
    if has_control_character(value):
        # PostgreSQL cannot store NUL at all; no envelope field has a use for any control character.
        return "must not contain control characters"
    return None


def has_control_character(value: str) -> bool:
    return any(unicodedata.category(char) == "Cc" for char in value)


def nesting_depth(document: Any, *, stop_after: int) -> int:
    """How deep objects and arrays nest (a flat object is 1), counting no further than one past
    ``stop_after``. Iterative, so a hostile document cannot exhaust the stack."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > stop_after:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest
