"""The guarded transport: real Redis state, partner answers from ``httpx.MockTransport``."""

from __future__ import annotations

import threading

import httpx
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from eduhook.settings import PartnerLimit, Settings
from handlers.errors import DeferredError, TransientError
from handlers.partners._http import send
from handlers.protection import Protection, attempt_scope
from handlers.protection.breaker import OPEN, Breaker, BreakerPolicy
from handlers.protection.budget import Budget
from handlers.protection.guard import GuardedTransport, PartnerGuard
from handlers.protection.metered import MeteredTransport, operation_of


class Partner:
    """Answers every request with the next status of ``statuses`` (the last one repeats)."""

    def __init__(self, *statuses: int, headers: dict[str, str] | None = None) -> None:
        self.statuses = list(statuses)
        self.headers = headers or {}
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return httpx.Response(status, headers=self.headers, json={})


@pytest.fixture
def client(redis_url: str) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


def guarded(guard: PartnerGuard, partner: Partner) -> httpx.Client:
    return httpx.Client(
        base_url="http://partner.test", transport=GuardedTransport(guard, httpx.MockTransport(partner))
    )


def get(http: httpx.Client, partner: str = "eduframe") -> httpx.Response:
    return send(http, http.build_request("GET", "/x"), partner=partner, what="read")


def test_a_spent_budget_defers_without_calling_the_partner(client: redis.Redis) -> None:
    partner = Partner(200)
    http = guarded(
        PartnerGuard("eduframe", budget=Budget("eduframe", PartnerLimit(requests=2, per_seconds=60), client)),
        partner,
    )
    get(http)
    get(http)
    with pytest.raises(DeferredError) as raised:
        get(http)
    error = raised.value
    assert partner.calls == 2
    assert error.partner == "eduframe" and error.error_class == "transient"
    assert error.retry_after is not None and 55 < error.retry_after <= 61
    assert "eduframe not called: request budget of 2/60 spent" in str(error)


def test_an_attempts_first_call_takes_two_eduframe_slots_and_its_second_call_uses_one(
    client: redis.Redis,
) -> None:
    budget = Budget("eduframe", PartnerLimit(requests=3, per_seconds=60), client)
    http = guarded(PartnerGuard("eduframe", budget=budget), Partner(200))
    with attempt_scope():
        get(http)
        assert budget.status().remaining == 1
        get(http)  # the enrollment's user read: already paid for
        assert budget.status().remaining == 1
        get(http)
        assert budget.status().remaining == 0
    with attempt_scope(), pytest.raises(DeferredError):
        get(http)  # a new attempt needs room for two before its first read


def test_an_open_breaker_defers_and_spends_no_budget(client: redis.Redis) -> None:
    budget = Budget("pennfoster", PartnerLimit(requests=100, per_seconds=60), client)
    breaker = Breaker("pennfoster", BreakerPolicy(failures=2, cooldown=30), client)
    partner = Partner(503)
    http = guarded(PartnerGuard("pennfoster", budget=budget, breaker=breaker), partner)
    assert [get(http, "pennfoster").status_code for _ in range(2)] == [503, 503]
    with pytest.raises(DeferredError, match="circuit breaker open"):
        get(http, "pennfoster")
    assert partner.calls == 2 and budget.status().remaining == 98
    assert breaker.status().state == OPEN


def test_connection_failures_count_towards_the_breaker(client: redis.Redis) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    breaker = Breaker("appsembler", BreakerPolicy(failures=2, cooldown=30), client)
    guard = PartnerGuard("appsembler", breaker=breaker)
    http = httpx.Client(transport=GuardedTransport(guard, httpx.MockTransport(refuse)))
    for _ in range(2):
        with pytest.raises(TransientError, match="connection failed"):
            send(http, http.build_request("GET", "http://a.test/"), partner="appsembler", what="x")
    assert breaker.status().state == OPEN


def test_a_probe_the_budget_refuses_is_given_back(client: redis.Redis) -> None:
    clock = [1_800_000_000.0]
    breaker = Breaker("pennfoster", BreakerPolicy(failures=1, cooldown=5), client, clock=lambda: clock[0])
    budget = Budget("pennfoster", PartnerLimit(requests=1, per_seconds=60), client)
    budget.take()
    breaker.failed()
    clock[0] += 5
    http = guarded(PartnerGuard("pennfoster", budget=budget, breaker=breaker), Partner(200))
    with pytest.raises(DeferredError, match="budget"):
        get(http, "pennfoster")
    assert breaker.admit().kind == "probe"  # not left waiting for a probe that never went


def test_a_429_pauses_the_budget_until_its_retry_after(client: redis.Redis) -> None:
    budget = Budget("eduframe", PartnerLimit(requests=100, per_seconds=60), client)
    breaker = Breaker("eduframe", BreakerPolicy(failures=1), client)
    http = guarded(
        PartnerGuard("eduframe", budget=budget, breaker=breaker), Partner(429, headers={"Retry-After": "20"})
    )
    assert get(http).status_code == 429
    with pytest.raises(DeferredError, match="paused by the partner's 429") as held:
        get(http)
    assert held.value.retry_after is not None and 18 < held.value.retry_after <= 20
    assert breaker.status().state == "closed"  # throttling is not an outage


def test_redis_unreachable_is_a_transient_failure_and_nothing_is_sent() -> None:
    down = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    partner = Partner(200)
    http = guarded(PartnerGuard("eduframe", breaker=Breaker("eduframe", BreakerPolicy(), down)), partner)
    with pytest.raises(TransientError, match="protection state unavailable") as raised:
        get(http)
    assert not isinstance(raised.value, DeferredError) and partner.calls == 0


def test_from_settings_protects_what_is_configured(redis_url: str) -> None:
    settings = Settings(redis_url=redis_url, limit_penn_foster="10/60", breaker_enabled=False)
    protection = Protection.from_settings(settings)
    guards = protection.guards
    assert guards["eduframe"].budget is not None and str(guards["eduframe"].budget.limit) == "450/300"
    assert guards["pennfoster"].budget is not None and guards["appsembler"].budget is None
    # Nothing to guard: httpx's own transport, metered only.
    assert type(protection.transport("appsembler")) is MeteredTransport
    assert type(protection.transport("pennfoster")) is GuardedTransport
    assert [s.partner for s in protection.status()] == ["eduframe", "pennfoster", "appsembler"]
    unshared = Protection.from_settings(Settings(redis_url=None))
    assert not any(guard.active for guard in unshared.guards.values())


def open_breaker(client: redis.Redis, clock: list[float]) -> Breaker:
    breaker = Breaker("pennfoster", BreakerPolicy(failures=1, cooldown=5), client, clock=lambda: clock[0])
    breaker.failed()
    return breaker


def test_an_event_held_back_last_time_is_held_again_before_it_reads_anything(client: redis.Redis) -> None:
    clock = [1_800_000_000.0]
    guard = PartnerGuard("pennfoster", breaker=open_breaker(client, clock))
    with attempt_scope(), pytest.raises(DeferredError, match="circuit breaker open until"):
        guard.precheck()
    guard.precheck()  # outside an attempt it asks nothing


def test_after_the_cool_down_the_first_held_event_probes_and_the_others_wait_unread(
    client: redis.Redis,
) -> None:
    clock = [1_800_000_000.0]
    breaker = open_breaker(client, clock)
    clock[0] += 5
    partner = Partner(200)
    guard = PartnerGuard("pennfoster", breaker=breaker)
    http = guarded(guard, partner)
    held: list[BaseException] = []

    def another_event() -> None:
        with attempt_scope():
            try:
                guard.precheck()
            except DeferredError as exc:
                held.append(exc)

    with attempt_scope():
        guard.precheck()  # takes the probe for this attempt
        waiting = threading.Thread(target=another_event)
        waiting.start()
        waiting.join()
        assert get(http, "pennfoster").status_code == 200  # the probe
    assert len(held) == 1 and "half-open, another call is probing" in str(held[0])
    assert partner.calls == 1 and breaker.status().state == "closed"


def test_a_probe_taken_at_the_start_but_never_sent_is_given_back(client: redis.Redis) -> None:
    clock = [1_800_000_000.0]
    breaker = open_breaker(client, clock)
    clock[0] += 5
    with attempt_scope():
        PartnerGuard("pennfoster", breaker=breaker).precheck()
    assert breaker.admit().kind == "probe"


def test_operation_names_the_endpoint_never_a_value() -> None:
    def op(method: str, url: str) -> str:
        return operation_of(httpx.Request(method, url))

    assert op("GET", "https://ef.example/api/v1/enrollments/1234") == "GET /api/v1/enrollments/{id}"
    assert op("POST", "https://pf.example/api/v4/b2b/learners") == "POST /api/v4/b2b/learners"
    assert op("GET", "https://a.example/users/ann.marie@example.com?x=1") == "GET /users/{id}"
    assert op("GET", "https://a.example/courses/course-v1:edX+DemoX") == "GET /courses/{id}"
    named = httpx.Request("GET", "https://a.example/x/7", extensions={"eduhook_operation": "read x"})
    assert operation_of(named) == "read x"
