"""Runs one event through its handler, decides what a failure leads to, and records the attempt."""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import OperationalError

from eduhook import metrics
from eduhook.ledger import EventLedger, EventRecord
from eduhook.ledger.events import DEFERRED, AttemptOutcome
from eduhook.ledger.schema import DEAD, FAILED, IGNORED, SUCCEEDED
from eduhook.logs import log_context
from handlers.context import HandlerContext
from handlers.errors import AlreadyDoneError, DeferredError, EduhookError, TransientError
from handlers.protection import attempt_scope, protection_for
from handlers.registry import Handler, HandlerRegistry, HandlerResult
from workers.retry import Dead, RetryPolicy

log = logging.getLogger("eduhook.worker")

ProcessResult = Literal["succeeded", "ignored", "failed", "deferred", "dead", "skipped"]


@dataclass(frozen=True)
class Failure:
    """A failed attempt as the retry policy sees it: a class, a safe message, where it came from."""

    error_class: str
    message: str
    partner: str | None = None
    http_status: int | None = None
    partner_code: str | None = None
    retry_after: float | None = None
    # Not a failure at the partner: protection held the call back (handlers/protection).
    deferred: bool = False

    @classmethod
    def of(cls, error: EduhookError) -> Failure:
        return cls(
            error_class=error.error_class,
            message=str(error),
            partner=error.partner,
            http_status=error.status_code,
            partner_code=error.partner_code,
            retry_after=error.retry_after if isinstance(error, TransientError) else None,
            deferred=isinstance(error, DeferredError),
        )


@dataclass
class EventProcessor:
    ledger: EventLedger
    registry: HandlerRegistry
    context: HandlerContext
    clock: Callable[[], dt.datetime]
    policy: RetryPolicy
    abandon_after: dt.timedelta = dt.timedelta(seconds=330)
    max_abandoned: int = 3

    def process(self, event_id: str) -> ProcessResult:
        with log_context(event_id=event_id):
            return self._process(event_id)

    def _process(self, event_id: str) -> ProcessResult:
        began = self.ledger.begin_attempt(
            event_id,
            self.context.worker_id,
            self.clock(),
            abandon_after=self.abandon_after,
            max_abandoned=self.max_abandoned,
        )
        if began is None:
            log.info("event %s: not due, finished, dead or in progress elsewhere; nothing to do", event_id)
            return "skipped"
        event, number = began
        with log_context(event_type=event.event_type, educator=event.educator, attempt=number):
            return self._attempt(event, number)

    def _attempt(self, event: EventRecord, number: int) -> ProcessResult:
        event_id = event.id
        handler = self.registry.get(event.event_type)
        if handler is None:
            result: AttemptOutcome | Failure = AttemptOutcome(
                status=IGNORED, outcome="ignored", reason=f"no handler for event type {event.event_type}"
            )
        else:
            with metrics.processing(event.received_at):
                result = self._run(handler, event)
            if isinstance(result, Failure) and result.deferred:
                return self._defer(event, number, result)
        now = self.clock()
        outcome = result if isinstance(result, AttemptOutcome) else self._decide(event, number, result, now)
        if not self.ledger.finish_attempt(event_id, number, outcome, now):
            log.warning("event %s attempt %d finished after it was given up as lost", event_id, number)
            return "skipped"
        self._log(event, number, outcome)
        done: ProcessResult = "dead" if outcome.status == DEAD else outcome.outcome  # type: ignore[assignment]
        _count(event, done, outcome.error_class, outcome.partner)
        return done

    def _run(self, handler: Handler, event: EventRecord) -> AttemptOutcome | Failure:
        try:
            with attempt_scope():
                if event.last_error_class == DEFERRED:  # still held back? then read nothing
                    protection_for(self.context).precheck(event.last_partner)
                result = handler(event, self.context) or HandlerResult()
        except AlreadyDoneError as exc:
            return AttemptOutcome(status=SUCCEEDED, outcome="succeeded", reason=f"already done: {exc}")
        except EduhookError as exc:
            return Failure.of(exc)
        except OperationalError as exc:
            # The ledger (effects) went away mid-event: one more transient failure.
            return Failure("transient", f"ledger unavailable ({type(exc.orig).__name__})")
        except Exception as exc:
            # Not one of ours: its message may hold anything, so keep the type and where it happened.
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"
            log.error("event handler crashed with %s at %s", type(exc).__name__, where)
            return Failure("unexpected", f"unexpected {type(exc).__name__} at {where}")
        status = SUCCEEDED if result.outcome == "succeeded" else IGNORED
        return AttemptOutcome(status=status, outcome=result.outcome, reason=result.reason)

    def _decide(self, event: EventRecord, number: int, failure: Failure, now: dt.datetime) -> AttemptOutcome:
        decision = self.policy.decide(
            failure.error_class,
            number - event.retry_base,
            partner=failure.partner,
            retry_after=failure.retry_after,
        )
        dead = isinstance(decision, Dead)
        return AttemptOutcome(
            status=DEAD if dead else FAILED,
            outcome="failed",
            reason=decision.reason if isinstance(decision, Dead) else None,
            error_class=failure.error_class,
            error_message=failure.message,
            partner=failure.partner,
            http_status=failure.http_status,
            partner_code=failure.partner_code,
            next_attempt_at=None
            if isinstance(decision, Dead)
            else self.clock() + dt.timedelta(seconds=decision.delay),
        )

    def _defer(self, event: EventRecord, number: int, failure: Failure) -> ProcessResult:
        """Protection held a partner call back: the event waits until the partner may be called,
        and the attempt is undone, so it uses none of the retry budget."""
        until = self.clock() + dt.timedelta(seconds=failure.retry_after or 0.0)
        if not self.ledger.defer_attempt(
            event.id, number, until=until, message=failure.message, partner=failure.partner, now=self.clock()
        ):
            log.warning("event %s attempt %d finished after it was given up as lost", event.id, number)
            return "skipped"
        log.info(
            "event %s (%s) deferred, no attempt used: %s",
            event.id, event.event_type, failure.message, extra={"partner": failure.partner},
        )  # fmt: skip
        _count(event, "deferred", DEFERRED, failure.partner)
        return "deferred"

    @staticmethod
    def _log(event: EventRecord, number: int, outcome: AttemptOutcome) -> None:
        if outcome.status == DEAD:
            # One line per dead letter, for alerts; messages carry ids and codes, never personal data.
            log.error(
                "event %s (%s) is dead after attempt %d: %s; partner=%s class=%s code=%s: %s",
                event.id, event.event_type, number, outcome.reason, outcome.partner,
                outcome.error_class, outcome.partner_code, outcome.error_message,
                extra={"partner": outcome.partner},
            )  # fmt: skip
            return
        detail = f" [{outcome.error_class}] {outcome.error_message}" if outcome.error_message else ""
        retry = f"; next attempt at {outcome.next_attempt_at:%H:%M:%S}" if outcome.next_attempt_at else ""
        log.info(
            "event %s (%s) attempt %d: %s%s%s",
            event.id,
            event.event_type,
            number,
            outcome.outcome,
            detail,
            retry,
            extra={"partner": outcome.partner} if outcome.partner else None,
        )


def _count(event: EventRecord, result: ProcessResult, error_class: str | None, partner: str | None) -> None:
    """The attempt's metrics: its outcome, and the retry or dead letter it led to."""
    m = metrics.metrics()
    error_class = error_class or metrics.NONE
    m.attempts.labels(event.event_type, result, error_class).inc()
    if result in ("failed", "deferred"):
        m.retries_scheduled.labels(partner or metrics.NONE, error_class).inc()
    elif result == "dead":
        m.dead_letters.labels(partner or metrics.NONE, error_class).inc()
