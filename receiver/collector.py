"""The receiver's scrape-time gauges: the ledger's events and the broker's queue, read per scrape.

    eduhook_events{status}              events by status
    eduhook_queue_depth                 messages waiting in the Celery queue (Redis LLEN)
    eduhook_oldest_pending_seconds      age of the oldest received, queued or processing event
    eduhook_retry_due{partner}          failed events whose next attempt is due
    eduhook_dead_letters{partner}       dead events
    eduhook_collector_up{source}        1 if the ledger / Redis answered this scrape, else 0

A source that fails leaves its gauges out and reports 0 in ``eduhook_collector_up``: the scrape
itself still answers 200, so Prometheus keeps what the other source says.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine

from eduhook.ledger.overview import overview
from eduhook.ledger.schema import EVENT_STATUSES

log = logging.getLogger("eduhook.receiver")


class LedgerCollector(Collector):
    def __init__(
        self, engine: Engine, broker: redis.Redis, queue: str, clock: Callable[[], dt.datetime]
    ) -> None:
        self.engine = engine
        self.broker = broker
        self.queue = queue
        self.clock = clock

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # registering it must not query anything

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "eduhook_collector_up", "1 if the source answered this scrape", labels=["source"]
        )
        yield from self._ledger(up)
        try:
            depth = int(self.broker.llen(self.queue))
        except redis.RedisError as exc:
            log.warning("metrics: Redis unavailable for the queue depth (%s)", type(exc).__name__)
            up.add_metric(["redis"], 0)
        else:
            up.add_metric(["redis"], 1)
            yield GaugeMetricFamily("eduhook_queue_depth", "Messages waiting in the event queue", value=depth)
        yield up

    def _ledger(self, up: GaugeMetricFamily) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        try:
            seen = overview(self.engine, now)
        except Exception as exc:  # any database failure: this scrape goes without the ledger
            log.warning("metrics: ledger unavailable (%s)", type(exc).__name__)
            up.add_metric(["ledger"], 0)
            return
        up.add_metric(["ledger"], 1)
        events = GaugeMetricFamily("eduhook_events", "Events in the ledger by status", labels=["status"])
        for status in EVENT_STATUSES:
            events.add_metric([status], seen.by_status.get(status, 0))
        yield events
        yield GaugeMetricFamily(
            "eduhook_oldest_pending_seconds",
            "Age of the oldest event received, queued or processing (0 if none)",
            value=seen.oldest_pending_seconds(now),
        )
        due = GaugeMetricFamily(
            "eduhook_retry_due", "Failed events due for their next attempt", labels=["partner"]
        )
        for partner, n in sorted(seen.due_by_partner.items()):
            due.add_metric([partner or "none"], n)
        yield due
        dead = GaugeMetricFamily("eduhook_dead_letters", "Dead events, by partner", labels=["partner"])
        for partner, n in sorted(seen.dead_by_partner.items()):
            dead.add_metric([partner or "none"], n)
        yield dead
