"""The dedup key of an Eduframe webhook: one function, used by the receiver and by migration v3.

Two deliveries are the same event when tenant, educator, event type and ``event_data`` are equal,
however the JSON was laid out. The tenant is part of the key since ledger version 3: before it,
the same educator, event and data from another tenant was answered "duplicate" and dropped.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson


def dedup_key(*, tenant_id: str, educator: str, event: str, event_data: Any) -> str:
    digest = hashlib.sha256()
    for part in (tenant_id, educator, event):
        digest.update(part.encode())
        digest.update(b"\x00")
    digest.update(orjson.dumps(event_data, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def dedup_key_of_payload(payload: str) -> str | None:
    """The key of a stored webhook body, or ``None`` when it is not an envelope (kept as it is)."""
    try:
        document = orjson.loads(payload)
        return dedup_key(
            tenant_id=document["tenant_id"],
            educator=document["educator"],
            event=document["event"],
            event_data=document["event_data"],
        )
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, KeyError, TypeError, AttributeError):
        return None
