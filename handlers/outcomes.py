"""Collects per-learner failures of one event and turns them into one error for the ledger."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from handlers.errors import ConfigurationError, DeferredError, EduhookError, PermanentError, TransientError


@dataclass
class Problems:
    """Failures of individual effects; the event fails if any, after every effect was tried."""

    errors: list[EduhookError] = field(default_factory=list)

    def add(self, error: EduhookError) -> None:
        self.errors.append(error)

    def raise_if_any(self, done: int) -> None:
        if not self.errors:
            return
        first = self.errors[0]
        summary = "; ".join(e.message if e.partner == first.partner else str(e) for e in self.errors[:3])
        more = f" (+{len(self.errors) - 3} more)" if len(self.errors) > 3 else ""
        message = f"{len(self.errors)} partner effects failed, {done} done: {summary}{more}"
        # Transient wins: the parts that may heal are retried, and an effect that failed for good
        # is tried again with them (a local check costs nothing; a partner rejects it again).
        # Once only permanent failures are left, the event goes dead with them.
        transient = [e for e in self.errors if isinstance(e, TransientError)]
        deferred = [e for e in transient if isinstance(e, DeferredError)]
        if transient and len(deferred) == len(transient):
            # Nothing failed at a partner; some calls were held back (budget, breaker). The event
            # waits for the first of them to be allowed, and the wait uses no attempt.
            first = min(deferred, key=lambda e: e.resume_at)
            raise DeferredError(
                message, partner=first.partner or "", resume_at=first.resume_at, now=time.time()
            )
        if transient:
            # The ledger reports a failure that happened at a partner, not a call held back.
            failed = next(e for e in transient if not isinstance(e, DeferredError))
            retry_after = max((e.retry_after for e in transient if e.retry_after), default=None)
            raise TransientError(
                message,
                retry_after=retry_after,
                partner=failed.partner,
                status_code=failed.status_code,
                partner_code=failed.partner_code,
            )
        worst = next((e for e in self.errors if isinstance(e, ConfigurationError)), first)
        kind = ConfigurationError if isinstance(worst, ConfigurationError) else PermanentError
        raise kind(
            message, partner=worst.partner, status_code=worst.status_code, partner_code=worst.partner_code
        )


def stops_everything(error: EduhookError) -> bool:
    """Errors after which further calls to the same partner are pointless (bad credentials)."""
    return isinstance(error, ConfigurationError)
