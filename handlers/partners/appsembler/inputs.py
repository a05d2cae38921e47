"""What the client sends, checked and encoded before any call: identifiers, course keys, time bounds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime

from handlers.errors import ConfigurationError, PermanentError
from handlers.partners.appsembler.course_keys import validate_course_key
from handlers.partners.appsembler.errors import PARTNER

# Appsembler splits identifiers on commas and any whitespace.
_IDENTIFIER_SEPARATORS = re.compile(r"[\s,]")


def check_identifiers(identifiers: Sequence[str], what: str) -> list[str]:
    if isinstance(identifiers, str) or not identifiers:
        raise PermanentError(f"{what}: identifiers must be a non-empty list", partner=PARTNER)
    for index, identifier in enumerate(identifiers, start=1):
        if not identifier or _IDENTIFIER_SEPARATORS.search(identifier):
            raise PermanentError(
                f"{what}: identifier #{index} is empty or contains a comma or whitespace",
                partner=PARTNER,
                partner_code="invalid_identifier",
            )
    return list(identifiers)


def check_courses(courses: Sequence[str], what: str) -> list[str]:
    if isinstance(courses, str) or not courses:
        raise PermanentError(f"{what}: courses must be a non-empty list", partner=PARTNER)
    for key in courses:
        try:
            validate_course_key(key)
        except ValueError as exc:
            raise ConfigurationError(
                f"{what}: {exc}", partner=PARTNER, partner_code="invalid_course_key"
            ) from None
    return list(courses)


def time_params(updated_min: date | None, updated_max: date | None) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in (("updated_min", updated_min), ("updated_max", updated_max)):
        if value is not None:
            params[name] = _format_moment(value)
    return params


def _format_moment(value: date) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat(timespec="seconds") + "Z"
        return value.isoformat(timespec="seconds")
    return value.isoformat()
