"""Runs one event through its handler and records the attempt and outcome in the ledger."""

from __future__ import annotations

import datetime as dt
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from eduhook.ledger import EventLedger, EventRecord
from eduhook.ledger.events import AttemptOutcome
from eduhook.ledger.schema import FAILED, IGNORED, SUCCEEDED
from handlers.context import HandlerContext
from handlers.errors import AlreadyDoneError, EduhookError, TransientError
from handlers.registry import Handler, HandlerRegistry, HandlerResult

log = logging.getLogger("eduhook.worker")

ProcessResult = Literal["succeeded", "ignored", "failed", "skipped"]

# Until the retry policy arrives, a transient failure is due again after this long.
DEFAULT_RETRY_DELAY = dt.timedelta(seconds=60)


@dataclass
class EventProcessor:
    ledger: EventLedger
    registry: HandlerRegistry
    context: HandlerContext
    clock: Callable[[], dt.datetime]

    def process(self, event_id: str) -> ProcessResult:
        began = self.ledger.begin_attempt(event_id, self.context.worker_id, self.clock())
        if began is None:
            log.info("event %s: unknown or already finished; nothing to do", event_id)
            return "skipped"
        event, number = began
        handler = self.registry.get(event.event_type)
        if handler is None:
            outcome = AttemptOutcome(
                status=IGNORED, outcome="ignored", reason=f"no handler for event type {event.event_type}"
            )
        else:
            outcome = self._run(handler, event, number)
        self.ledger.finish_attempt(event_id, number, outcome, self.clock())
        log.info(
            "event %s (%s) attempt %d: %s%s",
            event_id,
            event.event_type,
            number,
            outcome.outcome,
            f" [{outcome.error_class}] {outcome.error_message}" if outcome.error_message else "",
        )
        return outcome.outcome  # type: ignore[return-value]

    def _run(self, handler: Handler, event: EventRecord, number: int) -> AttemptOutcome:
        try:
            result = handler(event, self.context) or HandlerResult()
        except AlreadyDoneError as exc:
            return AttemptOutcome(status=SUCCEEDED, outcome="succeeded", reason=f"already done: {exc}")
        except TransientError as exc:
            delay = dt.timedelta(seconds=exc.retry_after) if exc.retry_after else DEFAULT_RETRY_DELAY
            return self._failed(exc, next_attempt_at=self.clock() + delay)
        except EduhookError as exc:
            return self._failed(exc)
        except Exception as exc:
            # Not one of ours: its message may hold anything, so keep the type and where it happened.
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            where = f"{frame.filename.rsplit('/', 2)[-2:][-1]}:{frame.lineno}"
            log.error("event handler crashed with %s at %s", type(exc).__name__, where)
            return AttemptOutcome(
                status=FAILED,
                outcome="failed",
                error_class="unexpected",
                error_message=f"unexpected {type(exc).__name__} at {where}",
            )
        status = SUCCEEDED if result.outcome == "succeeded" else IGNORED
        return AttemptOutcome(status=status, outcome=result.outcome, reason=result.reason)

    def _failed(self, exc: EduhookError, next_attempt_at: dt.datetime | None = None) -> AttemptOutcome:
        return AttemptOutcome(
            status=FAILED,
            outcome="failed",
            error_class=exc.error_class,
            error_message=str(exc),
            partner=exc.partner,
            http_status=exc.status_code,
            partner_code=exc.partner_code,
            next_attempt_at=next_attempt_at,
        )
