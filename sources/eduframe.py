"""Eduframe reconciliation: record the webhooks Eduframe gave up on, read back from its log.

Eduframe retries a delivery a few times, then marks it ``failed`` and never sends it again, so a
delivery that fell into an outage of eduhook or its network is lost unless someone reads the
webhook's notification log. This reads the ``failed`` notifications (and those still in
``retry``) of each webhook in ``eduframe.webhook_ids``, and records what the ledger lacks as an
ordinary event with source ``reconcile``: the same event type, payload and dedup key a webhook
would have brought, so a late delivery of the same event is a duplicate, and so are later runs.

A notification is trusted no more than a webhook: its ``data`` passes the receiver's envelope
checks, and the handlers re-read every resource it names. The reads go through
``EduframeClient``, so they share Eduframe's read budget with the handlers.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import redis

from eduhook.ledger import EventLedger, NewEvent, StoredEvent
from eduhook.ledger.schema import IGNORED, RECEIVED
from eduhook.settings import Settings
from handlers.partners.eduframe import EduframeClient
from handlers.registry import load_registry
from receiver.envelope import Envelope, EnvelopeError, parse_envelope

log = logging.getLogger("eduhook.sources.eduframe")

SOURCE = "reconcile"
# The beat run reads failures this far back: a week of outage is long, and each run re-reads
# no more than that window. `eduhook reconcile eduframe --since` reaches further.
BEAT_LOOKBACK = dt.timedelta(days=7)
CHUNK = 100  # events per ledger transaction and per LPUSH

Clock = Callable[[], dt.datetime]
Publish = Callable[[Sequence[str]], None]


@dataclass(frozen=True)
class Notice:
    """One notification's payload as eduhook would have received it, and where it came from."""

    webhook_id: str
    notification_id: str
    data: dict[str, Any]

    def __repr__(self) -> str:  # data carries personal data
        return f"Notice(webhook_id={self.webhook_id!r}, notification_id={self.notification_id!r})"


@dataclass
class Reconciliation:
    """What a run found: ``found`` envelopes, of which the ledger ``already_had`` some and
    ``recovered`` the rest (in a dry run: would have). ``invalid`` notifications carry no valid
    envelope, ``not_accepted`` ones an educator the receiver refuses; neither is recorded."""

    dry_run: bool
    webhooks: int = 0
    found: int = 0
    already_had: int = 0
    recovered: int = 0
    invalid: int = 0
    not_accepted: int = 0
    unqueued: int = 0  # recorded while Redis was down: the scheduler's sweep queues them
    recovered_ids: list[str] = field(default_factory=list)
    invalid_notifications: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "webhooks": self.webhooks,
            "found": self.found,
            "already_had": self.already_had,
            "recovered": self.recovered,
            "invalid": self.invalid,
            "not_accepted": self.not_accepted,
            "unqueued": self.unqueued,
            "recovered_ids": self.recovered_ids,
            "invalid_notifications": self.invalid_notifications,
        }


def reconciler_for(
    settings: Settings, ledger: EventLedger, publish: Publish, clock: Clock
) -> EduframeReconciler:
    """The reconciler the settings describe: their Eduframe client, handlers, webhooks and educators."""
    return EduframeReconciler(
        client=EduframeClient.from_settings(settings),
        ledger=ledger,
        publish=publish,
        handles=load_registry(settings.handler_modules).handles,
        webhook_ids=settings.eduframe_webhook_ids,
        educators=settings.educators,
        clock=clock,
    )


@dataclass(frozen=True)
class _Candidate:
    envelope: Envelope
    notice: Notice


class EduframeReconciler:
    """Reads the given-up notifications of each watched webhook and records the missing events."""

    def __init__(
        self,
        *,
        client: EduframeClient,
        ledger: EventLedger,
        publish: Publish,
        handles: Callable[[str], bool],
        webhook_ids: Sequence[str],
        educators: Iterable[str] = (),
        clock: Clock,
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.publish = publish
        self.handles = handles
        self.webhook_ids = list(webhook_ids)
        self.educators = frozenset(educators)
        self.clock = clock

    def read(self, since: dt.datetime | None) -> list[Notice]:
        """The ``failed`` notifications created from ``since`` on, and every one still in ``retry``.

        A retry is recorded too: when Eduframe's next attempt arrives it is a duplicate, and when
        the outage outlasts the attempts it is already here.
        """
        notices: list[Notice] = []
        for webhook_id in self.webhook_ids:
            failed = self.client.list_failed_webhook_notifications(webhook_id, start=since)
            notices.extend(Notice(webhook_id, n.id, n.data) for n in failed)
            retrying = self.client.list_webhook_notifications(webhook_id)
            notices.extend(Notice(webhook_id, n.id, n.data) for n in retrying if n.status == "retry")
        return notices

    def run(
        self,
        since: dt.datetime | None,
        *,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> Reconciliation:
        """Read, then record; ``progress(n)`` after each ``n`` notices checked."""
        return self.record(self.read(since), dry_run=dry_run, progress=progress)

    def run_scheduled(self) -> Reconciliation:
        """The beat's run: the last ``BEAT_LOOKBACK`` of failures."""
        report = self.run(self.clock() - BEAT_LOOKBACK)
        log.info(
            "reconcile eduframe: found %d, already had %d, recovered %d, invalid %d",
            report.found, report.already_had, report.recovered, report.invalid,
        )  # fmt: skip
        return report

    def record(
        self,
        notices: Sequence[Notice],
        *,
        dry_run: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> Reconciliation:
        report = Reconciliation(dry_run=dry_run, webhooks=len(self.webhook_ids))
        seen: set[str] = set()
        for start in range(0, len(notices), CHUNK):
            chunk = notices[start : start + CHUNK]
            candidates = self._candidates(chunk, report)
            self._record_chunk(candidates, report, seen)
            if progress is not None:
                progress(len(chunk))
        return report

    def _candidates(self, notices: Sequence[Notice], report: Reconciliation) -> list[_Candidate]:
        """The notices that carry an envelope the receiver would accept; the rest are counted."""
        candidates = []
        for notice in notices:
            try:
                envelope = parse_envelope(notice.data)
            except EnvelopeError as exc:
                report.invalid += 1
                report.invalid_notifications[notice.notification_id] = str(exc)
                continue
            if self.educators and envelope.educator not in self.educators:
                report.not_accepted += 1
                continue
            candidates.append(_Candidate(envelope, notice))
        report.found += len(candidates)
        return candidates

    def _record_chunk(self, candidates: Sequence[_Candidate], report: Reconciliation, seen: set[str]) -> None:
        # One event delivered to two watched webhooks is one event: its first notice in the run
        # stands for it, and the others count as already had.
        unique: dict[str, _Candidate] = {}
        for candidate in candidates:
            if candidate.envelope.dedup_key not in seen:
                unique.setdefault(candidate.envelope.dedup_key, candidate)
        seen.update(unique)
        known = self.ledger.known_dedup_keys(list(unique))
        report.already_had += len(candidates) - len(unique) + len(known)
        missing = [c for key, c in unique.items() if key not in known]
        if report.dry_run:
            report.recovered += len(missing)
            return
        stored = self._insert(missing, report)
        recovered = [s for s in stored if not s.duplicate]
        # Another run (or a late delivery) may have recorded one since the check above.
        report.already_had += len(stored) - len(recovered)
        report.recovered += len(recovered)
        report.recovered_ids.extend(s.id for s in recovered)
        self._queue([s.id for s in recovered if s.status == RECEIVED], report)

    def _insert(self, candidates: Sequence[_Candidate], report: Reconciliation) -> list[StoredEvent]:
        """Record the batch; when the database refuses a value, record one by one and count the refused."""
        events = [self._event(c.envelope) for c in candidates]
        try:
            return self.ledger.insert_batch(events)
        except Exception as exc:
            if not self.ledger.refuses_data(exc):
                raise
        stored: list[StoredEvent] = []
        for candidate, event in zip(candidates, events, strict=True):
            try:
                stored.extend(self.ledger.insert_batch([event]))
            except Exception as exc:
                if not self.ledger.refuses_data(exc):
                    raise
                report.found -= 1
                report.invalid += 1
                report.invalid_notifications[candidate.notice.notification_id] = "refused by the database"
        return stored

    def _event(self, envelope: Envelope) -> NewEvent:
        wanted = self.handles(envelope.event)
        return NewEvent(
            id=str(uuid.uuid4()),
            educator=envelope.educator,
            tenant_id=envelope.tenant_id,
            event_type=envelope.event,
            dedup_key=envelope.dedup_key,
            payload=orjson.dumps(envelope.raw).decode("utf-8"),
            status=RECEIVED if wanted else IGNORED,
            status_reason=None if wanted else f"no handler for event type {envelope.event}",
            received_at=self.clock(),
            source=SOURCE,
        )

    def _queue(self, event_ids: list[str], report: Reconciliation) -> None:
        """Queue the recorded events; with Redis down they stay ``received`` for the scheduler."""
        if not event_ids:
            return
        try:
            self.publish(event_ids)
        except redis.RedisError as exc:
            report.unqueued += len(event_ids)
            log.warning(
                "reconcile eduframe: %d recovered events not queued (%s); the scheduler queues them",
                len(event_ids), type(exc).__name__,
            )  # fmt: skip
            return
        self.ledger.mark_queued(event_ids, self.clock())
