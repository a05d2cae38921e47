"""Where protection meets the partner clients: an httpx transport that asks the partner's breaker
and budget before every call, and tells them how the call went.

Every partner request of every client goes through its ``httpx.Client``'s transport, so this
one seam covers Eduframe reads, Penn Foster tokens and learners, and Appsembler alike. A call
that may not be made raises ``DeferredError`` before anything is sent; the handlers treat it as
a transient failure of that effect (nothing is claimed as done), and the worker reschedules the
event without using an attempt. The breaker is asked first, so an open breaker spends no budget.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

import httpx
import redis

from eduhook import metrics
from eduhook.logs import log_context
from handlers.errors import DeferredError, TransientError
from handlers.partners._http import parse_retry_after
from handlers.protection.breaker import OPEN, Breaker, Verdict
from handlers.protection.budget import Budget, Spent, hms

log = logging.getLogger("eduhook.protection")

# The first call an attempt makes to a partner takes this many slots of its budget at once; the
# attempt's next calls use them up first. An ``enrollment.created`` reads the enrollment, then
# its user: taking both up front means a spent budget stops an event before its first read, not
# between the two. Otherwise, when many events wake together, every first read takes a slot,
# every second read finds none, and no event gets through at all.
FIRST_CALL_COST = {"eduframe": 2}


@dataclass
class Attempt:
    """What one processing attempt holds: budget slots paid for ahead, and breaker probes."""

    credit: dict[str, int] = field(default_factory=dict)  # partner → slots left from its first call
    probes: dict[str, Breaker] = field(default_factory=dict)  # partner → the breaker it may probe


_attempt: ContextVar[Attempt | None] = ContextVar("eduhook_protection_attempt", default=None)


@contextlib.contextmanager
def attempt_scope() -> Iterator[None]:
    """One processing attempt: its calls to a partner share the slots their first call took, and
    a probe it took but never sent is given back at its end, so the next caller probes."""
    attempt = Attempt()
    token = _attempt.set(attempt)
    try:
        yield
    finally:
        _attempt.reset(token)
        for breaker in attempt.probes.values():
            with contextlib.suppress(redis.RedisError):  # its lease runs out anyway
                breaker.release()


@dataclass
class PartnerGuard:
    """The breaker and the budget of one partner, either of which may be off (``None``)."""

    partner: str
    budget: Budget | None = None
    breaker: Breaker | None = None

    @property
    def active(self) -> bool:
        return self.budget is not None or self.breaker is not None

    def precheck(self) -> None:
        """At the start of an attempt of an event this breaker held back last time: raise
        ``DeferredError`` if it still would, before the event reads anything. If the cool-down is
        over, this attempt takes the probe, and the others wait for its outcome unread."""
        attempt = _attempt.get()
        if self.breaker is None or attempt is None:
            return
        try:
            verdict = self.breaker.admit()
        except redis.RedisError:
            return  # the call itself will be refused, with the reason
        if verdict.kind == "wait":
            raise self._held(verdict)
        if verdict.kind == "probe":
            attempt.probes[self.partner] = self.breaker

    def before_call(self) -> None:
        """Return if the call may go now; raise ``DeferredError`` saying until when it may not."""
        attempt = _attempt.get()
        probe = attempt.probes.pop(self.partner, None) if attempt is not None else None
        try:
            if probe is not None:  # this attempt took the probe at its start: this call is it
                verdict = Verdict("probe")
            else:
                verdict = self.breaker.admit() if self.breaker else Verdict("call")
            if verdict.kind == "wait":
                raise self._held(verdict)
            spent = self._spend()
            if spent is not None:
                metrics.metrics().rate_limited.labels(self.partner).inc()
                if self.breaker and verdict.kind == "probe":
                    self.breaker.release()
                raise self._deferred(spent.until, spent.reason)
        except redis.RedisError as exc:
            raise TransientError(
                f"{self.partner}: protection state unavailable ({type(exc).__name__}); not called",
                partner=self.partner,
            ) from exc

    def after_response(self, response: httpx.Response) -> None:
        """A 429 pauses the budget (and says nothing of the partner's health); 5xx is a failure."""
        try:
            if response.status_code == 429:
                metrics.metrics().rate_limited.labels(self.partner).inc()
                if self.budget is not None:
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    until = self.budget.pause(retry_after)
                    log.warning(
                        "budget %s: the partner answered 429; paused until %s", self.partner, hms(until)
                    )
            elif self.breaker is not None:
                if response.status_code >= 500:
                    self.breaker.failed()
                else:
                    self.breaker.succeeded()
        except redis.RedisError as exc:  # the call happened: its outcome must reach the handler
            log.warning("%s: could not record a call's outcome (%s)", self.partner, type(exc).__name__)

    def after_failure(self) -> None:
        """The call timed out or could not connect."""
        try:
            if self.breaker is not None:
                self.breaker.failed()
        except redis.RedisError as exc:
            log.warning("%s: could not record a call's outcome (%s)", self.partner, type(exc).__name__)

    def _spend(self) -> Spent | None:
        if self.budget is None:
            return None
        attempt = _attempt.get()
        if attempt is None:  # not inside an attempt: nothing to reserve for
            return self.budget.take()
        credit = attempt.credit
        if credit.get(self.partner, 0) > 0:
            credit[self.partner] -= 1
            return None
        cost = FIRST_CALL_COST.get(self.partner, 1) if self.partner not in credit else 1
        spent = self.budget.take(cost)
        if spent is None:
            credit[self.partner] = cost - 1
        return spent

    def _held(self, verdict: Verdict) -> DeferredError:
        why = "open" if verdict.state == OPEN else "half-open, another call is probing"
        return self._deferred(verdict.until, f"circuit breaker {why} until {hms(verdict.until)}")

    def _deferred(self, until: float, reason: str) -> DeferredError:
        return DeferredError(
            f"{self.partner} not called: {reason}",
            partner=self.partner,
            resume_at=until,
            now=time.time(),
        )


class GuardedTransport(httpx.BaseTransport):
    """``inner`` behind ``guard``: asks before each request, reports each outcome."""

    def __init__(self, guard: PartnerGuard, inner: httpx.BaseTransport) -> None:
        self.guard = guard
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with log_context(partner=self.guard.partner):
            self.guard.before_call()
            try:
                response = self.inner.handle_request(request)
            except httpx.TransportError:
                self.guard.after_failure()
                raise
            self.guard.after_response(response)
            return response

    def close(self) -> None:
        self.inner.close()
