"""Eduframe's per-token request window: which calls a token may make now, and what each token made.

Eduframe's Admin API allows 500 requests per 5-minute window per access token and answers
``429 Too Many Requests`` with ``Retry-After`` past it. The sandbox enforces the same window, so
eduhook's own limiter meets a partner that really refuses. The window itself is pyrate-limiter's
in-memory sliding-window log; the sandbox hands it timestamps from the sandbox clock (instead of
letting a library read the wall clock) so a test that advances ``/_sandbox/clock`` moves the window.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from pyrate_limiter import InMemoryBucket, Rate, RateItem

DEFAULT_REQUESTS = 500
DEFAULT_PER_SECONDS = 300.0


@dataclass(frozen=True)
class Limit:
    """``requests`` calls per ``per_seconds`` seconds, per access token."""

    requests: int
    per_seconds: float

    @classmethod
    def from_json(cls, data: Any) -> Limit | None:
        """``{"requests": N, "per_seconds": S}``, or ``None`` / ``{"requests": null}`` for no limit.

        Raises ``ValueError`` naming the key that is wrong.
        """
        if data is None:
            return None
        if not isinstance(data, dict):
            raise ValueError("rate_limit: expected an object like {'requests': 500, 'per_seconds': 300}")
        unknown = set(data) - {"requests", "per_seconds"}
        if unknown:
            raise ValueError(f"rate_limit: unknown keys {', '.join(sorted(unknown))}")
        requests = data.get("requests")
        if requests is None:
            return None
        if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
            raise ValueError("rate_limit.requests must be a whole number of at least 1, or null for no limit")
        per_seconds = data.get("per_seconds")
        if isinstance(per_seconds, bool) or not isinstance(per_seconds, int | float) or per_seconds <= 0:
            raise ValueError("rate_limit.per_seconds must be a number of seconds above 0")
        if per_seconds * 1000 < 1:
            raise ValueError("rate_limit.per_seconds must be at least 0.001")
        return cls(requests, float(per_seconds))

    def to_json(self) -> dict[str, Any]:
        return {"requests": self.requests, "per_seconds": self.per_seconds}


DEFAULT_LIMIT = Limit(DEFAULT_REQUESTS, DEFAULT_PER_SECONDS)


def token_label(token: str) -> str:
    """How the sandbox names a token in its counts: a hash prefix, since the token is a secret."""
    return "sha256:" + hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass
class TokenUse:
    """One token's calls since the limit was last set: served, and answered 429."""

    served: int = 0
    rejected: int = 0
    bucket: InMemoryBucket | None = field(default=None, repr=False)
    last_stamp: int = 0


class RequestWindow:
    """The limit in force and every token's use of it; ``admit`` decides one call."""

    def __init__(self, limit: Limit | None = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.tokens: dict[str, TokenUse] = {}

    def configure(self, limit: Limit | None) -> None:
        """Put ``limit`` in force (``None``: no limit) with an empty window and counts from zero."""
        self.limit = limit
        self.tokens.clear()

    def admit(self, token: str, now: float) -> float | None:
        """``None`` if ``token`` may call at ``now`` (the call is counted); else seconds until it may."""
        use = self.tokens.setdefault(token_label(token), TokenUse())
        if self.limit is None:
            use.served += 1
            return None
        bucket = self._bucket(use)
        item = RateItem(token_label(token), self._stamp(use, now))
        bucket.leak(item.timestamp)
        if bucket.put(item):
            use.served += 1
            return None
        use.rejected += 1
        waiting = bucket.waiting(item)
        assert isinstance(waiting, int)  # the in-memory bucket answers synchronously
        return waiting / 1000

    def remaining(self, use: TokenUse, now: float) -> int | None:
        """Calls ``use``'s token may still make at ``now``; ``None`` when no limit is in force."""
        if self.limit is None:
            return None
        bucket = self._bucket(use)
        bucket.leak(self._stamp(use, now))
        return max(0, self.limit.requests - bucket.count())

    def to_json(self, now: float) -> dict[str, Any]:
        """The limit, totals over all tokens, and per token: served, rejected (429s) and remaining."""
        limit = self.limit.to_json() if self.limit else {"requests": None, "per_seconds": None}
        tokens = {
            label: {"served": use.served, "rejected": use.rejected, "remaining": self.remaining(use, now)}
            for label, use in self.tokens.items()
        }
        return {
            **limit,
            "served": sum(use.served for use in self.tokens.values()),
            "rejected": sum(use.rejected for use in self.tokens.values()),
            "tokens": tokens,
        }

    def _bucket(self, use: TokenUse) -> InMemoryBucket:
        assert self.limit is not None
        if use.bucket is None:
            interval_ms = math.ceil(self.limit.per_seconds * 1000)
            use.bucket = InMemoryBucket([Rate(self.limit.requests, interval_ms)])
        return use.bucket

    @staticmethod
    def _stamp(use: TokenUse, now: float) -> int:
        # The log must stay in time order; a test setting the clock back does not reopen the window.
        use.last_stamp = max(use.last_stamp, int(now * 1000))
        return use.last_stamp


def retry_after_header(wait: float) -> str:
    """Whole seconds, rounded up and at least 1, as Eduframe's ``Retry-After`` carries them."""
    return str(max(1, math.ceil(wait)))
