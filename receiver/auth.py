"""Webhook token checks: from ``?token=`` or ``Authorization: Bearer``, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from starlette.requests import Request

TOKEN_PARAMETER = "token"  # noqa: S105 (a parameter name, not a secret)


class TooManyTokens(ValueError):
    """More than one token in one request: refused rather than guessing which one counts."""


def presented_token(request: Request) -> bytes | None:
    """The one token the request carries, or ``None``; ``TooManyTokens`` when it carries several.

    The query is read decoded (``?%74oken=`` is ``?token=``) and the parameter name in any case;
    a ``token`` parameter counts even when empty, and so does a Bearer header.
    """
    found = [value for name, value in request.query_params.multi_items() if name.lower() == TOKEN_PARAMETER]
    for header in request.headers.getlist("authorization"):
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            found.append(value.strip())
    if len(found) > 1:
        raise TooManyTokens(f"{len(found)} webhook tokens presented")
    return found[0].encode() if found and found[0] else None


def token_accepted(presented: bytes | None, accepted: Sequence[bytes]) -> bool:
    """True when ``presented`` equals any accepted token; every token is compared, always."""
    if presented is None:
        return False
    matched = False
    for candidate in accepted:
        matched |= hmac.compare_digest(presented, candidate)
    return matched
