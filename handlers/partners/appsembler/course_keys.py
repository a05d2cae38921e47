"""Open edX course keys as eduhook uses them: ``course-v1:Org+Code+Run``, checked before any call."""

from __future__ import annotations

import re

# The character class is opaque_keys' ALLOWED_ID_CHARS; Appsembler parses keys with opaque_keys.
_PART = r"[\w\-~.:]+"
COURSE_KEY_RE = re.compile(rf"course-v1:(?P<org>{_PART})\+(?P<code>{_PART})\+(?P<run>{_PART})")


def is_course_key(value: object) -> bool:
    """True when ``value`` is exactly a ``course-v1:Org+Code+Run`` key (no surrounding spaces)."""
    return isinstance(value, str) and COURSE_KEY_RE.fullmatch(value) is not None


def validate_course_key(value: str) -> str:
    """Return ``value`` unchanged or raise ``ValueError`` naming it (course keys are not personal).

    Usable directly as a pydantic ``AfterValidator`` in the routes configuration. Legacy
    ``Org/Code/Run`` keys are refused on purpose: Tahoe sites only create ``course-v1`` keys, and a
    single accepted form keeps route configuration comparable with what Appsembler reports back.
    """
    if not is_course_key(value):
        raise ValueError(f"course key {value!r} is not of the form course-v1:Org+Code+Run")
    return value
