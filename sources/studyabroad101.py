"""StudyAbroad101 leads as ledger events: the poll that beat runs and ``eduhook sync studyabroad101`` runs.

StudyAbroad101 filters leads by date only, so each poll asks for ``created_after`` one day before
the cursor's date (the filter is exclusive: the cursor's own day comes back) and skips the ids the
cursor already holds for that day. It pages with ``offset``/``limit`` until a short page. Each
page's new leads are recorded as ``studyabroad101.lead.created`` events, with the cursor's new
position, in one ledger transaction; only then are their ids queued. A crash mid-page therefore
loses nothing (the page is read again) and duplicates nothing (the dedup key
``studyabroad101:<provider user>:<lead id>`` is recorded once). Events recorded but not queued
(Redis down, or a crash in between) are queued by the scheduler's sweep of ``received`` events.

The stored payload is the lead as the partner sent it (personal data, like a webhook's); broker
messages carry event ids only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
import orjson

from eduhook.ledger import EventLedger, NewEvent
from eduhook.ledger.cursors import Cursor, CursorLedger
from eduhook.ledger.schema import RECEIVED
from eduhook.settings import Settings
from handlers.errors import ConfigurationError, PartnerDataError, TransientError
from handlers.partners.studyabroad101 import Lead, StudyAbroad101Client

log = logging.getLogger("eduhook.sources.studyabroad101")

SOURCE = "studyabroad101"
LEAD_CREATED = "studyabroad101.lead.created"
PAGE_SIZE = 100
# Consecutive clock-skew rejections after which the poller says, at ERROR, to check NTP.
SKEW_ADVICE_AFTER = 3
_SKEW = "AuthTimeDifference"
_MAX_KEY = 64  # the ledger's dedup_key column

Publish = Callable[[Sequence[str]], None]
Clock = Callable[[], dt.datetime]


def lead_dedup_key(provider: str, lead_id: int) -> str:
    """``studyabroad101:<provider user>:<lead id>``; a provider name too long for the column is hashed."""
    key = f"{SOURCE}:{provider}:{lead_id}"
    if len(key) <= _MAX_KEY:
        return key
    digest = hashlib.sha256(provider.encode()).hexdigest()[:24]
    return f"{SOURCE}:{digest}:{lead_id}"


@dataclass
class PollReport:
    """What one poll or sync read: leads found, recorded as new, and already known."""

    found: int = 0
    new: int = 0
    known: int = 0
    pages: int = 0
    event_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, int]:
        return {"found": self.found, "new": self.new, "already_known": self.known, "pages": self.pages}


class LeadPoller:
    """Reads new leads for one provider and records each once; the same code for beat and the CLI."""

    def __init__(
        self,
        client: StudyAbroad101Client,
        ledger: EventLedger,
        *,
        provider: str,
        publish: Publish,
        clock: Clock,
        new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self.client = client
        self.ledger = ledger
        self.cursors = CursorLedger(ledger.engine)
        self.provider = provider
        self.cursor_name = f"{SOURCE}:{provider}"
        self.publish = publish
        self.clock = clock
        self.new_id = new_id

    def poll(
        self,
        *,
        since: dt.date | None = None,
        dry_run: bool = False,
        on_page: Callable[[int], None] = lambda _count: None,
    ) -> PollReport:
        """Read every lead from ``since`` (default: the cursor's day) and record the new ones.

        A dry run reads the ledger only. Raises the partner's errors as classified; a clock-skew
        rejection is counted first (see :meth:`_note_skew`).
        """
        cursor = self.cursors.get(self.cursor_name) or Cursor(self.cursor_name, "")
        start = since or (dt.date.fromisoformat(cursor.position) if cursor.position else None)
        created_after = start - dt.timedelta(days=1) if start else None
        report = PollReport()
        offset, previous = 0, None
        while True:
            page = self._read(created_after, offset)
            ids = [lead.id for lead in page]
            if page and ids == previous:
                # A partner ignoring offset would hand us the same page forever.
                raise PartnerDataError(
                    f"list leads: offset {offset} returned the same page again", partner=SOURCE
                )
            cursor = self._record(page, cursor, dry_run, report)
            report.pages += 1
            on_page(len(page))
            if len(page) < PAGE_SIZE:
                return report
            offset, previous = offset + len(page), ids

    def _read(self, created_after: dt.date | None, offset: int) -> list[Lead]:
        try:
            return self.client.list_leads(created_after=created_after, offset=offset, limit=PAGE_SIZE)
        except TransientError as error:
            if error.partner_code == _SKEW:
                self._note_skew()
            raise

    def _note_skew(self) -> None:
        """Count a clock-skew rejection in the ledger, so polls on every worker count together."""
        in_row = self.cursors.count_failure(self.cursor_name, self.clock())
        if in_row >= SKEW_ADVICE_AFTER:
            log.error(
                "StudyAbroad101 rejected %d polls in a row: this host's clock and the partner's differ by"
                " more than 60 s. Check NTP on this host (timedatectl / chronyc tracking)",
                in_row,
            )
        else:
            log.warning(
                "StudyAbroad101 rejected the request date (clock skew, %d in a row); retrying", in_row
            )

    def _record(self, page: list[Lead], cursor: Cursor, dry_run: bool, report: PollReport) -> Cursor:
        fresh = [
            lead
            for lead in page
            if not (lead.created_at.isoformat() == cursor.position and str(lead.id) in cursor.seen)
        ]
        report.found += len(page)
        report.known += len(page) - len(fresh)
        moved = _advance(cursor, page)
        now = self.clock()
        events = [self._event(lead, now) for lead in fresh]
        if dry_run:
            known = self.ledger.known_dedup_keys([event.dedup_key for event in events])
            report.known += len(known)
            report.new += len(events) - len(known)
            return moved
        stored = self.ledger.insert_batch(events, now=now, cursor=moved)
        new_ids = [s.id for s in stored if not s.duplicate]
        report.new += len(new_ids)
        report.known += len(stored) - len(new_ids)
        report.event_ids.extend(new_ids)
        if new_ids:
            self.publish(new_ids)
            self.ledger.mark_queued(new_ids, now)
        return moved

    def _event(self, lead: Lead, now: dt.datetime) -> NewEvent:
        payload = {"source": SOURCE, "provider": self.provider, "lead": lead.model_dump(mode="json")}
        return NewEvent(
            id=self.new_id(),
            educator=self.provider,
            tenant_id=SOURCE,
            event_type=LEAD_CREATED,
            dedup_key=lead_dedup_key(self.provider, lead.id),
            payload=orjson.dumps(payload).decode(),
            status=RECEIVED,
            status_reason=None,
            received_at=now,
            source=SOURCE,
        )


def _advance(cursor: Cursor, page: list[Lead]) -> Cursor:
    """The cursor after ``page``: its newest day, with the ids read on that day."""
    if not page:
        return cursor
    newest = max(lead.created_at for lead in page).isoformat()
    return cursor.advanced(newest, (str(lead.id) for lead in page if lead.created_at.isoformat() == newest))


class ScheduledPoll:
    """The beat task's poll: a transient failure waits for the next run; bad credentials stop it.

    A configuration error (wrong user or key) is logged once and the poller stays stopped in this
    process until eduhook restarts with new settings; events, retries and the other partners go on.
    """

    def __init__(self, build: Callable[[], LeadPoller]) -> None:
        self._build = build
        self._poller: LeadPoller | None = None
        self.stopped: str | None = None

    def run(self) -> PollReport | None:
        if self.stopped is not None:
            log.debug("StudyAbroad101 poller stopped: %s", self.stopped)
            return None
        try:
            if self._poller is None:
                self._poller = self._build()
            report = self._poller.poll()
        except ConfigurationError as error:
            self.stopped = str(error)
            log.error("StudyAbroad101 poller stopped, fix the configuration and restart eduhook: %s", error)
            return None
        except TransientError as error:
            log.warning("StudyAbroad101 poll failed, the next run tries again: %s", error)
            return None
        if report.new:
            log.info("StudyAbroad101: %d new leads recorded", report.new)
        return report


def build_lead_poller(
    settings: Settings,
    ledger: EventLedger,
    publish: Publish,
    *,
    clock: Clock,
    transport: httpx.BaseTransport | None = None,
) -> LeadPoller:
    """The poller for the configured provider; a ``ConfigurationError`` when credentials are unset."""
    client = StudyAbroad101Client.from_settings(settings, transport=transport)
    assert settings.studyabroad101_api_user is not None  # from_settings refuses an unset user
    return LeadPoller(client, ledger, provider=settings.studyabroad101_api_user, publish=publish, clock=clock)
