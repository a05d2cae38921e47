"""Reading ids out of ``event_data``: the only fields handlers take from the payload itself."""

from __future__ import annotations

from typing import Any

from eduhook.ledger import EventRecord
from handlers.errors import PermanentError


def int_field(data: dict[str, Any], name: str, event: EventRecord) -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise PermanentError(
            f"{event.event_type} event {event.id}: event_data.{name} is missing or not an id"
        )
    return int(value)


def optional_int_field(data: dict[str, Any], name: str, event: EventRecord) -> int | None:
    """Like :func:`int_field`, but absent or null is ``None``."""
    return None if data.get(name) is None else int_field(data, name, event)


def resource_id(event: EventRecord) -> int:
    """The id of the resource the event is about (``event_data.id``)."""
    return int_field(event.data, "id", event)
