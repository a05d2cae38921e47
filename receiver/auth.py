"""Webhook token checks: from ``?token=`` or ``Authorization: Bearer``, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.requests import Request


def presented_token(request: Request) -> bytes | None:
    token = request.query_params.get("token")
    if token:
        return token.encode()
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip().encode()
    return None


def token_accepted(presented: bytes | None, accepted: Sequence[bytes]) -> bool:
    """True when ``presented`` equals any accepted token; every token is compared, always."""
    if presented is None:
        return False
    matched = False
    for candidate in accepted:
        matched |= hmac.compare_digest(presented, candidate)
    return matched
