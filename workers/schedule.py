"""The scheduler beat runs: due retries, and the sweeps that recover what a crash left behind.

One beat task, ``eduhook.schedule``, runs every ``EDUHOOK_SCHEDULER_INTERVAL`` seconds on its own
queue (so a backlog of events never delays it). Each run, in bounded batches:
- queues ``failed`` events whose ``next_attempt_at`` is due;
- queues events recorded while the broker was down (``received`` for ``EDUHOOK_UNQUEUED_AFTER``);
- queues again events ``queued`` for ``EDUHOOK_REQUEUE_AFTER`` with no attempt started (the broker
  lost the message, e.g. a Redis restart without its append-only file);
- abandons attempts open longer than the task time limit plus ``EDUHOOK_ABANDON_MARGIN`` (their
  worker died), and queues those events again, or makes them dead once workers died on them
  ``EDUHOOK_MAX_ABANDONED`` times.
Queuing an event twice is harmless: an attempt starts only on an event that is due.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from eduhook.ledger import EventLedger
from eduhook.ledger.schedule import ScheduleLedger
from eduhook.settings import Settings

log = logging.getLogger("eduhook.scheduler")

SCHEDULE = "eduhook.schedule"
SCHEDULE_QUEUE = "eduhook-schedule"
BATCH = 500
MAX_BATCHES = 20  # per run and per kind: a run stays short, and the next one carries on

Publish = Callable[[Sequence[str]], None]


@dataclass
class RunReport:
    due: int = 0
    unqueued: int = 0
    stale: int = 0
    abandoned: int = 0
    dead: list[str] = field(default_factory=list)

    @property
    def queued(self) -> int:
        return self.due + self.unqueued + self.stale + self.abandoned


@dataclass
class Scheduler:
    events: EventLedger
    schedule: ScheduleLedger
    publish: Publish
    clock: Callable[[], dt.datetime]
    abandon_after: dt.timedelta
    requeue_after: dt.timedelta
    max_abandoned: int
    unqueued_after: dt.timedelta = dt.timedelta(seconds=30)

    @classmethod
    def from_settings(
        cls, settings: Settings, events: EventLedger, publish: Publish, clock: Callable[[], dt.datetime]
    ) -> Scheduler:
        return cls(
            events=events,
            schedule=ScheduleLedger(events.engine),
            publish=publish,
            clock=clock,
            abandon_after=dt.timedelta(seconds=settings.abandon_after),
            requeue_after=dt.timedelta(seconds=settings.requeue_after),
            max_abandoned=settings.max_abandoned,
            unqueued_after=dt.timedelta(seconds=settings.unqueued_after),
        )

    def run(self) -> RunReport:
        report = RunReport()
        report.due = self._drain(lambda now: self.schedule.claim_due(now, BATCH), unclaim=True)
        report.unqueued = self._queue_unqueued()
        report.stale = self._drain(
            lambda now: self.schedule.requeue_stale(now - self.requeue_after, now, BATCH)
        )
        now = self.clock()
        recovered = self.schedule.recover_abandoned(
            now - self.abandon_after, now, max_abandoned=self.max_abandoned
        )
        if recovered.requeued:
            self.publish(recovered.requeued)
        report.abandoned, report.dead = len(recovered.requeued), recovered.dead
        for event_id in recovered.dead:
            log.error(
                "event %s is dead: worker lost %d times while processing it", event_id, self.max_abandoned
            )
        if report.queued or report.dead:
            log.info(
                "scheduler: %d due retries, %d unqueued, %d with lost messages, %d of dead workers queued;"
                " %d dead", report.due, report.unqueued, report.stale, report.abandoned, len(report.dead),
            )  # fmt: skip
        return report

    def _drain(self, take: Callable[[dt.datetime], list[str]], *, unclaim: bool = False) -> int:
        total = 0
        for _ in range(MAX_BATCHES):
            now = self.clock()
            ids = take(now)
            if ids:
                try:
                    self.publish(ids)
                except Exception:
                    if unclaim:  # back to `failed`, due: the next run tries again
                        self.schedule.unclaim(ids, now)
                    raise
            total += len(ids)
            if len(ids) < BATCH:
                break
        return total

    def _queue_unqueued(self) -> int:
        total = 0
        for _ in range(MAX_BATCHES):
            now = self.clock()
            ids = self.events.unqueued(now - self.unqueued_after, limit=BATCH)
            if ids:
                self.publish(ids)
                self.events.mark_queued(ids, now)
            total += len(ids)
            if len(ids) < BATCH:
                break
        return total
