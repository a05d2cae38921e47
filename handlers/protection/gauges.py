"""``eduhook_breaker_state{partner}``, read from Redis when scraped: 0 closed, 1 half-open, 2 open.

The breakers live in Redis, shared by every worker process; a value a process remembered from
its last call would go stale the moment another process closes the breaker, so each scrape asks.
"""

from __future__ import annotations

from collections.abc import Iterator

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from handlers.protection.breaker import CLOSED, HALF_OPEN, OPEN
from handlers.protection.setup import Protection

BREAKER_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


class BreakerCollector(Collector):
    """The breaker state of each partner whose breaker is on; ``eduhook_collector_up{source="redis"}``
    says whether Redis answered (a scrape never fails for it)."""

    def __init__(self, protection: Protection) -> None:
        self.protection = protection

    def describe(self) -> list[GaugeMetricFamily]:
        return []  # registering it must not ask Redis

    def collect(self) -> Iterator[GaugeMetricFamily]:
        states = GaugeMetricFamily(
            "eduhook_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", labels=["partner"]
        )
        up = GaugeMetricFamily(
            "eduhook_collector_up", "1 if the source answered this scrape", labels=["source"]
        )
        try:
            for label, guard in self.protection.guards.items():
                if guard.breaker is not None:
                    states.add_metric([label], BREAKER_VALUES[guard.breaker.status().state])
        except redis.RedisError:
            up.add_metric(["redis"], 0)
            yield up
            return
        up.add_metric(["redis"], 1)
        yield states
        yield up
