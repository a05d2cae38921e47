"""The one retry policy: what a failed attempt leads to, decided by its error class alone.

    transient     retried with capped exponential backoff and full jitter, at least the
                  partner's ``Retry-After``, until the attempts run out; then dead
    unexpected    (a bug) retried like a transient error, at most ``UNEXPECTED_RETRIES`` times
    permanent     dead at once: retrying cannot help
    configuration dead at once: fix the setting the message names, then replay

The delay of attempt ``n`` (1-based, counted since the last replay) is
``uniform(0, min(max_delay, first_delay * 2**(n-1)))`` with full jitter, and the cap itself
with ``jitter = "none"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from random import random as uniform

from eduhook.settings import Jitter, RetryOverride, Settings

# A crash in our own code is unlikely to heal by itself; a few tries cover a flaky dependency.
UNEXPECTED_RETRIES = 3

RETRIED_CLASSES = frozenset({"transient", "unexpected"})

# Partner labels as the error tree names them, and the settings key that overrides each.
PARTNER_SETTINGS = {"pennfoster": "penn_foster", "appsembler": "appsembler", "eduframe": "eduframe"}


@dataclass(frozen=True)
class Backoff:
    """The retry settings in force for one partner."""

    first_delay: float = 30.0
    max_delay: float = 3600.0
    max_attempts: int = 12
    jitter: Jitter = "full"

    def with_override(self, override: RetryOverride | None) -> Backoff:
        if override is None:
            return self
        given = {k: v for k, v in override.model_dump().items() if v is not None}
        return replace(self, **given)

    def cap(self, attempt: int) -> float:
        """The longest delay after the ``attempt``-th failure (exponent bounded: no overflow)."""
        return min(self.max_delay, self.first_delay * 2.0 ** min(attempt - 1, 64))


@dataclass(frozen=True)
class Retry:
    delay: float  # seconds until the next attempt is due


@dataclass(frozen=True)
class Dead:
    reason: str


Decision = Retry | Dead


@dataclass(frozen=True)
class RetryPolicy:
    default: Backoff = field(default_factory=Backoff)
    partners: Mapping[str, Backoff] = field(default_factory=dict)
    random: Callable[[], float] = uniform  # uniform in [0, 1); tests inject their own

    @classmethod
    def from_settings(cls, settings: Settings, random: Callable[[], float] = uniform) -> RetryPolicy:
        default = Backoff(
            first_delay=settings.retry_first_delay,
            max_delay=settings.retry_max_delay,
            max_attempts=settings.retry_max_attempts,
            jitter=settings.retry_jitter,
        )
        partners = {
            label: default.with_override(getattr(settings, f"retry_{key}"))
            for label, key in PARTNER_SETTINGS.items()
        }
        return cls(default=default, partners=partners, random=random)

    def backoff(self, partner: str | None) -> Backoff:
        return self.partners.get(partner or "", self.default)

    def decide(
        self, error_class: str, attempt: int, *, partner: str | None = None, retry_after: float | None = None
    ) -> Decision:
        """What follows the ``attempt``-th failed attempt (counted since the last replay)."""
        if error_class == "configuration":
            return Dead("configuration error: fix the setting named in the error, then replay")
        if error_class not in RETRIED_CLASSES:
            return Dead(f"{error_class} error: retrying cannot help")
        backoff = self.backoff(partner)
        if error_class == "unexpected" and attempt > UNEXPECTED_RETRIES:
            return Dead(f"unexpected error {attempt} times: fix the bug, then replay")
        if attempt >= backoff.max_attempts:
            return Dead(f"still failing after {attempt} attempts")
        return Retry(self.delay(backoff, attempt, retry_after))

    def delay(self, backoff: Backoff, attempt: int, retry_after: float | None = None) -> float:
        cap = backoff.cap(attempt)
        delay = cap if backoff.jitter == "none" else self.random() * cap
        if retry_after:
            delay = max(delay, min(retry_after, backoff.max_delay))
        return delay
