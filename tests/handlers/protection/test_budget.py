"""The shared request budget against a real Redis, on the wall clock that ``limits`` uses."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from eduhook.settings import PartnerLimit
from handlers.protection.budget import ARRIVAL_MARGIN, DEFAULT_PAUSE, Budget


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def test_admits_the_limit_then_says_when_the_oldest_call_leaves_the_window(client: redis.Redis) -> None:
    budget = Budget("eduframe", PartnerLimit(requests=3, per_seconds=5), client)
    started = time.time()
    assert [budget.take() for _ in range(3)] == [None] * 3
    spent = budget.take()
    assert spent is not None and "request budget of 3/5 spent" in spent.reason
    # Counted for the partner's window plus the margin for the call's way there.
    assert started + 5 + ARRIVAL_MARGIN <= spent.until <= time.time() + 5 + ARRIVAL_MARGIN
    assert budget.status().remaining == 0


def test_every_process_shares_one_budget(client: redis.Redis) -> None:
    budgets = [Budget("eduframe", PartnerLimit(requests=25, per_seconds=60), client) for _ in range(4)]
    admitted: list[bool] = []

    def worker(budget: Budget) -> None:
        for _ in range(20):
            admitted.append(budget.take() is None)

    threads = [threading.Thread(target=worker, args=(b,)) for b in budgets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert admitted.count(True) == 25 and len(admitted) == 80


def test_a_cost_takes_that_many_slots_at_once_or_none(client: redis.Redis) -> None:
    budget = Budget("eduframe", PartnerLimit(requests=3, per_seconds=60), client)
    assert budget.take(2) is None
    assert budget.take(2) is not None  # one slot left: not enough, and it stays free
    assert budget.take(1) is None
    assert budget.take(5) is not None  # never more than the limit itself


def test_a_pause_holds_every_call_and_keeps_the_later_end(client: redis.Redis) -> None:
    budget = Budget("pennfoster", PartnerLimit(requests=100, per_seconds=60), client)
    other_process = Budget("pennfoster", PartnerLimit(requests=100, per_seconds=60), client)
    until = budget.pause(30)
    other_process.pause(2)  # a shorter Retry-After later does not shorten it
    spent = other_process.take()
    assert spent is not None and spent.until == pytest.approx(until) and "429" in spent.reason
    assert other_process.status().paused_until == pytest.approx(until)
    assert budget.status().remaining == 100  # nothing was counted


def test_a_pause_without_retry_after_lasts_the_default_and_then_ends(client: redis.Redis) -> None:
    budget = Budget("pennfoster", PartnerLimit(requests=1, per_seconds=60), client)
    before = time.time()
    assert budget.pause(None) == pytest.approx(before + DEFAULT_PAUSE, abs=1)
    short = Budget("appsembler", PartnerLimit(requests=1, per_seconds=60), client)
    short.pause(0.05)
    deadline = time.monotonic() + 5
    while short.take() is not None:  # the pause ends on its own (a Redis expiry)
        assert time.monotonic() < deadline
        time.sleep(0.02)
