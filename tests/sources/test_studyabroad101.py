"""The StudyAbroad101 lead poller against the sandbox over loopback, recording into a real ledger."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence

import httpx
import pytest
from pydantic import SecretStr
from starlette.types import ASGIApp

from eduhook.ledger import EventLedger, create_engine_for, upgrade
from eduhook.ledger.cursors import CursorLedger
from eduhook.settings import Settings
from handlers.errors import TransientError
from sandbox.server import RunningServer
from sandbox.studyabroad101 import DEFAULT_API_KEY, DEFAULT_API_USER, create_app
from sources.studyabroad101 import LEAD_CREATED, LeadPoller, ScheduledPoll, build_lead_poller, lead_dedup_key

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


class Published:
    """The broker seam: the ids each publish call was given; ``fail_after`` calls, it raises."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_after = fail_after

    def __call__(self, event_ids: Sequence[str]) -> None:
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise ConnectionError("broker down")
        self.calls.append(list(event_ids))

    @property
    def ids(self) -> list[str]:
        return [event_id for call in self.calls for event_id in call]


@pytest.fixture
def ledger(database_url: str) -> EventLedger:
    engine = create_engine_for(database_url)
    upgrade(engine)
    return EventLedger(engine)


@pytest.fixture
def sandbox_url(serve: Callable[[ASGIApp], RunningServer]) -> str:
    return serve(create_app({"leads": []})).url


def settings_for(url: str, key: str = DEFAULT_API_KEY) -> Settings:
    return Settings(
        studyabroad101_api_url=url,
        studyabroad101_api_user=DEFAULT_API_USER,
        studyabroad101_api_key=SecretStr(key),
    )


def poller(url: str, ledger: EventLedger, publish: Published) -> LeadPoller:
    return build_lead_poller(settings_for(url), ledger, publish, clock=lambda: NOW)


def add_leads(url: str, count: int, days: int = 1, first_day: str = "2026-11-01") -> list[int]:
    body = {"count": count, "days": days, "first_day": first_day, "program_ids": [7, 8]}
    answer = httpx.post(f"{url}/_sandbox/studyabroad101/leads", json=body)
    assert answer.status_code == 200, answer.text
    added: list[int] = answer.json()["added"]
    return added


def lead_queries(url: str) -> list[str]:
    recorded = httpx.get(f"{url}/_sandbox/requests", params={"path": "/api/leads"}).json()
    return [request["query"] for request in recorded]


def test_250_leads_over_5_days_are_recorded_once_and_then_30_more(
    sandbox_url: str, ledger: EventLedger
) -> None:
    add_leads(sandbox_url, 250, days=5)
    published = Published()
    first = poller(sandbox_url, ledger, published).poll()
    assert (first.found, first.new, first.known, first.pages) == (250, 250, 0, 3)
    assert sorted(published.ids) == sorted(first.event_ids) and len(set(published.ids)) == 250
    assert lead_queries(sandbox_url) == ["limit=100&offset=0", "limit=100&offset=100", "limit=100&offset=200"]
    cursor = CursorLedger(ledger.engine).get("studyabroad101:sample-provider-1")
    assert cursor is not None and cursor.position == "2026-11-05" and len(cursor.seen) == 50

    event = ledger.get(published.ids[0])
    assert event is not None
    assert (event.source, event.event_type, event.status) == ("studyabroad101", LEAD_CREATED, "queued")
    assert event.payload["lead"]["id"] == 1 and event.payload["provider"] == DEFAULT_API_USER

    # The next poll reads from the day before the cursor's and finds nothing new.
    httpx.delete(f"{sandbox_url}/_sandbox/requests")
    again = poller(sandbox_url, ledger, published).poll()
    assert (again.found, again.new, again.known) == (50, 0, 50)
    assert lead_queries(sandbox_url) == ["created_after=2026-11-04&limit=100&offset=0"]

    added = add_leads(sandbox_url, 30, first_day="2026-11-05")
    more = poller(sandbox_url, ledger, published).poll()
    assert (more.new, more.known) == (30, 50)
    assert len(published.ids) == 280
    keys = [lead_dedup_key(DEFAULT_API_USER, lead_id) for lead_id in range(1, 281)]
    assert ledger.known_dedup_keys(keys) == set(keys) and added[-1] == 280


def test_a_poll_cut_short_after_a_page_loses_and_duplicates_nothing(
    sandbox_url: str, ledger: EventLedger
) -> None:
    add_leads(sandbox_url, 250, days=5)
    broken = Published(fail_after=1)  # the second page's events are recorded, their queuing fails
    with pytest.raises(ConnectionError):
        poller(sandbox_url, ledger, broken).poll()
    assert ledger.count_by_status() == {"queued": 100, "received": 100}
    published = Published()
    report = poller(sandbox_url, ledger, published).poll()
    # It starts from the recorded page's last day (its ids skipped); the recorded-but-unqueued
    # events are the scheduler's (its sweep of `received`), not queued a second time.
    assert (report.found, report.new, report.known) == (100, 50, 50)
    assert ledger.count_by_status() == {"queued": 150, "received": 100}


def test_a_dry_run_records_nothing(sandbox_url: str, ledger: EventLedger) -> None:
    add_leads(sandbox_url, 120, days=2)
    published = Published()
    poller(sandbox_url, ledger, published).poll(since=dt.date(2026, 11, 2))  # the 60 of the second day
    dry = poller(sandbox_url, ledger, published).poll(since=dt.date(2026, 11, 1), dry_run=True)
    assert (dry.found, dry.new, dry.known) == (120, 60, 60)
    assert ledger.count_by_status() == {"queued": 60}
    assert len(published.ids) == 60


def test_clock_skew_is_transient_and_the_third_in_a_row_says_check_ntp(
    sandbox_url: str, ledger: EventLedger, caplog: pytest.LogCaptureFixture
) -> None:
    httpx.post(f"{sandbox_url}/_sandbox/clock", json={"advance": 90})
    skewed = poller(sandbox_url, ledger, Published())
    caplog.set_level(logging.WARNING, logger="eduhook.sources.studyabroad101")
    for _ in range(2):
        with pytest.raises(TransientError, match="60 s"):
            skewed.poll()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with pytest.raises(TransientError):
        skewed.poll()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "Check NTP" in errors[0]

    httpx.post(f"{sandbox_url}/_sandbox/clock", json={"advance": -90})
    skewed.poll()
    cursor = CursorLedger(ledger.engine).get("studyabroad101:sample-provider-1")
    assert cursor is not None and cursor.failures == 0


def test_wrong_credentials_stop_the_scheduled_poll_once(
    sandbox_url: str, ledger: EventLedger, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(sandbox_url, key="not-the-key")
    scheduled = ScheduledPoll(lambda: build_lead_poller(settings, ledger, Published(), clock=lambda: NOW))
    caplog.set_level(logging.ERROR, logger="eduhook.sources.studyabroad101")
    assert scheduled.run() is None and scheduled.run() is None
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "STUDYABROAD101_API_KEY" in errors[0] and "not-the-key" not in errors[0]
    assert len(lead_queries(sandbox_url)) == 1  # the stopped poller asks no more
