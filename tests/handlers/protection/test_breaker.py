"""The shared circuit breaker against a real Redis, on an injected clock."""

from __future__ import annotations

import logging
import threading

import pytest
import redis

from handlers.protection.breaker import CLOSED, HALF_OPEN, OPEN, PROBE_RECHECK, Breaker, BreakerPolicy

POLICY = BreakerPolicy(failures=3, cooldown=10.0, max_cooldown=35.0, probe_lease=40.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def breaker(client: redis.Redis, clock: Clock, partner: str = "pennfoster") -> Breaker:
    return Breaker(partner, POLICY, client, clock=clock)


def test_opens_after_the_consecutive_failures_and_a_success_starts_the_count_again(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    b = breaker(client, clock)
    b.failed()
    b.failed()
    b.succeeded()  # not consecutive any more
    b.failed()
    b.failed()
    assert b.admit().kind == "call" and b.status().state == CLOSED
    with caplog.at_level(logging.WARNING, "eduhook.protection"):
        b.failed()
    verdict = b.admit()
    assert (verdict.kind, verdict.until, verdict.state) == ("wait", clock.now + 10, OPEN)
    assert "breaker pennfoster: open until" in caplog.text and "3 consecutive failures" in caplog.text


def test_one_probe_after_the_cool_down_across_processes_and_success_closes_it(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    workers = [breaker(client, clock) for _ in range(8)]  # one Breaker per worker process
    for _ in range(3):
        workers[0].failed()
    clock.now += 10
    verdicts = []
    threads = [threading.Thread(target=lambda w=w: verdicts.append(w.admit())) for w in workers]
    with caplog.at_level(logging.WARNING, "eduhook.protection"):
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(v.kind for v in verdicts) == ["probe"] + ["wait"] * 7
    # The others look again soon, not at the end of the probe's lease.
    assert {v.until for v in verdicts if v.kind == "wait"} == {clock.now + PROBE_RECHECK}
    assert workers[3].status().state == HALF_OPEN
    with caplog.at_level(logging.WARNING, "eduhook.protection"):
        workers[5].succeeded()
    assert workers[1].admit().kind == "call" and workers[1].status().state == CLOSED
    assert "half-open" in caplog.text and "closed, the probe succeeded" in caplog.text


def test_a_failed_probe_doubles_the_cool_down_up_to_the_max_and_success_resets_it(
    client: redis.Redis,
) -> None:
    clock = Clock()
    b = breaker(client, clock)
    for _ in range(3):
        b.failed()
    cooldowns = []
    for _ in range(4):
        opened = b.status()
        assert opened.state == OPEN and opened.until is not None
        cooldowns.append(opened.until - clock.now)
        clock.now = opened.until
        assert b.admit().kind == "probe"
        b.failed()
    assert cooldowns == [10, 20, 35, 35]
    clock.now = b.status().until or 0
    assert b.admit().kind == "probe"
    b.succeeded()
    for _ in range(3):
        b.failed()
    status = b.status()
    assert status.until is not None and status.until - clock.now == 10  # back to the first cool-down


def test_a_probe_lost_with_its_worker_is_handed_on_after_its_lease(client: redis.Redis) -> None:
    clock = Clock()
    b = breaker(client, clock)
    for _ in range(3):
        b.failed()
    clock.now += 10
    assert b.admit().kind == "probe"
    clock.now += 39
    assert b.admit().kind == "wait"
    clock.now += 1
    assert b.admit().kind == "probe"


def test_a_probe_given_back_unsent_lets_the_next_caller_probe(client: redis.Redis) -> None:
    clock = Clock()
    b = breaker(client, clock)
    for _ in range(3):
        b.failed()
    clock.now += 10
    assert b.admit().kind == "probe"
    b.release()
    assert b.admit().kind == "probe"


def test_late_outcomes_of_calls_made_before_it_opened_change_nothing(client: redis.Redis) -> None:
    clock = Clock()
    b = breaker(client, clock)
    for _ in range(3):
        b.failed()
    until = b.status().until
    b.failed()
    b.succeeded()
    assert (b.status().state, b.status().until) == (OPEN, until)


def test_partners_have_their_own_breakers(client: redis.Redis) -> None:
    clock = Clock()
    for _ in range(3):
        breaker(client, clock, "pennfoster").failed()
    assert breaker(client, clock, "appsembler").admit().kind == "call"
    assert breaker(client, clock, "pennfoster").admit().kind == "wait"
