"""Deterministic partner-side ids: Penn Foster alternate ids and transaction GUIDs, Open edX usernames.

Each is a pure function of eduhook's own keys, so a retried or redelivered event sends the same
id and the partner itself recognises the duplicate (Penn Foster E608600001, Appsembler 409).
"""

from __future__ import annotations

import hashlib
import re
import uuid

ALTERNATE_ID_MAX = 75  # Penn Foster's Size for alternate_id
USERNAME_MIN, USERNAME_MAX = 2, 30  # Open edX's username length limits
# Fixed forever: changing it would change every transaction GUID already sent.
TRANSACTION_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:eduhook:pennfoster:transaction")

# Educator slugs kept as they are in ids; anything else is replaced and marked by a digest.
_SAFE = re.compile(r"[A-Za-z0-9._-]+")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_DIGEST = 10


def _digest(text: str, size: int = _DIGEST) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def _educator_part(educator: str, room: int) -> str:
    """``educator`` when it is safe and fits ``room``; else a safe prefix plus a digest of the whole
    slug, so two long slugs that share a prefix still give different ids."""
    if _SAFE.fullmatch(educator) and len(educator) <= room:
        return educator
    digest = _digest(educator)
    keep = max(room - len(digest) - 1, 0)
    prefix = _UNSAFE.sub("-", educator)[:keep].strip("-")
    return f"{prefix}~{digest}" if prefix else digest


def _bounded(prefix: str, educator: str, suffix: str, size: int) -> str:
    room = size - len(prefix) - len(suffix)
    if room < _DIGEST:
        raise ValueError(f"id suffix too long for {size} characters")
    return f"{prefix}{_educator_part(educator, room)}{suffix}"


def alternate_id(educator: str, user_id: int) -> str:
    """Penn Foster's ``alternate_id`` for an Eduframe user: ``eduframe:{educator}:{user_id}``, with
    an over-long or unusual educator slug shortened to a prefix and a digest (≤ 75 characters)."""
    return _bounded("eduframe:", educator, f":{user_id}", ALTERNATE_ID_MAX)


def lead_alternate_id(educator: str, lead_id: int, program_id: str) -> str:
    """The ``alternate_id`` of a Penn Foster lead: one per Eduframe lead and Penn Foster program,
    since one Eduframe lead may ask for several products."""
    return _bounded("eduframe:", educator, f":lead:{lead_id}:{program_id}", ALTERNATE_ID_MAX)


def transaction_guid(effect_key: str) -> str:
    """The learner request's ``transaction_guid`` (String 36): the UUID5 of the effect key."""
    return str(uuid.uuid5(TRANSACTION_NAMESPACE, effect_key))


def appsembler_username(educator: str, user_id: int) -> str:
    """An Open edX username for an Eduframe user: ``{educator}-{user_id}`` in lower case, using only
    letters, digits, ``_`` and ``-``, within 2-30 characters (a digest replaces what does not fit)."""
    suffix = f"-{user_id}"
    room = USERNAME_MAX - len(suffix)
    slug = _UNSAFE.sub("-", educator.lower()).replace(".", "-").strip("-_")
    if slug and slug == educator.lower() and len(slug) <= room:
        return f"{slug}{suffix}"
    digest = _digest(educator, 6)
    keep = max(room - len(digest) - 1, 0)
    prefix = slug[:keep].strip("-_")
    return f"{prefix}-{digest}{suffix}" if prefix else f"{digest}{suffix}"
