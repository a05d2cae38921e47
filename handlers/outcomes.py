"""Collects per-learner failures of one event and turns them into one error for the ledger."""

from __future__ import annotations

from dataclasses import dataclass, field

from handlers.errors import ConfigurationError, EduhookError, PermanentError, TransientError


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
        # Permanent wins: retrying will not fix it, and the transient parts retry with the replay.
        if any(isinstance(e, PermanentError) for e in self.errors):
            raise PermanentError(
                message, partner=first.partner, status_code=first.status_code, partner_code=first.partner_code
            )
        retry_after = max(
            (e.retry_after for e in self.errors if isinstance(e, TransientError) and e.retry_after),
            default=None,
        )
        raise TransientError(
            message,
            retry_after=retry_after,
            partner=first.partner,
            status_code=first.status_code,
            partner_code=first.partner_code,
        )


def stops_everything(error: EduhookError) -> bool:
    """Errors after which further calls to the same partner are pointless (bad credentials)."""
    return isinstance(error, ConfigurationError)
