"""eduhook's error tree: what went wrong, classified once, so the worker can decide by class alone.

    EduhookError
    ├── PermanentError          retrying cannot help: validation, 4xx, unknown resources
    │   ├── ConfigurationError  eduhook's own configuration is wrong or missing
    │   └── PartnerDataError    a partner answered with something we cannot parse
    ├── TransientError          may succeed later: timeouts, connection errors, 5xx, 429
    │   │                       (``retry_after`` in seconds when the partner said so)
    │   └── InDoubtError        the request may have reached the partner (no answer came back):
    │                           ask the partner whether it was done before sending it again
    │   └── DeferredError       not sent at all: the partner's budget is spent or its breaker is
    │                           open (``handlers/protection``); rescheduled without using an attempt
    └── AlreadyDoneError        the partner says the thing already exists; record it as done

Messages name fields, ids and partner codes, never personal values or secrets.
"""

from __future__ import annotations


class EduhookError(Exception):
    """Root of every error eduhook raises on purpose."""

    def __init__(
        self,
        message: str,
        *,
        partner: str | None = None,
        status_code: int | None = None,
        partner_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.partner = partner
        self.status_code = status_code
        self.partner_code = partner_code

    @property
    def error_class(self) -> str:
        """The class stored in the ledger and read by the retry policy (``workers/retry.py``):
        ``permanent``, ``configuration``, ``transient`` or ``already_done``."""
        return "error"

    def __str__(self) -> str:
        parts = [self.message]
        if self.partner:
            parts.append(f"partner={self.partner}")
        if self.status_code is not None:
            parts.append(f"status={self.status_code}")
        if self.partner_code:
            parts.append(f"code={self.partner_code}")
        return " ".join([parts[0], *(f"[{p}]" for p in parts[1:])])


class PermanentError(EduhookError):
    """Retrying cannot help; the event goes dead at once, with this message as its reason."""

    @property
    def error_class(self) -> str:
        return "permanent"


class ConfigurationError(PermanentError):
    """eduhook's configuration is missing or wrong (no credentials, bad route)."""

    @property
    def error_class(self) -> str:
        return "configuration"


class PartnerDataError(PermanentError):
    """A partner's answer could not be understood (malformed JSON, missing fields)."""


class TransientError(EduhookError):
    """May succeed later; ``retry_after`` carries the partner's requested delay in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        partner: str | None = None,
        status_code: int | None = None,
        partner_code: str | None = None,
    ) -> None:
        super().__init__(message, partner=partner, status_code=status_code, partner_code=partner_code)
        self.retry_after = retry_after

    @property
    def error_class(self) -> str:
        return "transient"


class InDoubtError(TransientError):
    """The request was sent and no answer came back (a read timeout, a dropped connection), so
    the partner may have carried it out. Retried like any transient error, but the next attempt
    asks the partner first instead of sending the same request blind."""


class DeferredError(TransientError):
    """The call was not made: eduhook's own protection of ``partner`` holds it until ``resume_at``
    (epoch seconds). The worker reschedules the event for then, and the attempt does not count."""

    def __init__(self, message: str, *, partner: str, resume_at: float, now: float) -> None:
        super().__init__(message, retry_after=max(0.0, resume_at - now), partner=partner)
        self.resume_at = resume_at


class AlreadyDoneError(EduhookError):
    """The partner reports the thing exists already (Penn Foster E608600001…, Appsembler 409)."""

    @property
    def error_class(self) -> str:
        return "already_done"
