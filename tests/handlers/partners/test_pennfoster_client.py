"""PennFosterClient over httpx.MockTransport: tokens, the 401 retry, status mapping, batches, lookups."""

from __future__ import annotations

import base64
import email.utils
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson
import pytest
import redis
from pydantic import SecretStr
from redis.backoff import NoBackoff
from redis.retry import Retry

from handlers.errors import ConfigurationError, PartnerDataError, PermanentError, TransientError
from handlers.partners.pennfoster import (
    LearnerRequest,
    MemoryTokenCache,
    PennFosterClient,
    RedisTokenCache,
    TokenCache,
)

BASE = "https://pf.test"
SECRET = "s3cr3t-value"
API_KEY = "key-123"
Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakePennFoster:
    """Issues numbered tokens and answers API calls with ``api`` (a handler) after checking the bearer."""

    def __init__(self, api: Handler | None = None, *, expires_in: Any = "3600") -> None:
        self.api = api or (lambda request: httpx.Response(200, json=[]))
        self.expires_in = expires_in
        self.token_requests: list[httpx.Request] = []
        self.api_requests: list[httpx.Request] = []
        self.token_status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            self.token_requests.append(request)
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={"message": "Invalid client"})
            token = f"tok-{len(self.token_requests)}"
            return httpx.Response(
                200, json={"access_token": token, "token_type": "bearer", "expires_in": self.expires_in}
            )
        self.api_requests.append(request)
        return self.api(request)

    def bearers(self) -> list[str]:
        return [r.headers["authorization"] for r in self.api_requests]


def make_client(
    fake: FakePennFoster, *, cache: TokenCache | None = None, clock: Clock | None = None
) -> PennFosterClient:
    return PennFosterClient(
        httpx.Client(base_url=BASE, transport=httpx.MockTransport(fake)),
        client_id="client-1",
        client_secret=SecretStr(SECRET),
        api_key=SecretStr(API_KEY),
        token_cache=cache or MemoryTokenCache(),
        clock=clock or Clock(),
    )


def learner_body(alternate_id: str = "eduhook:acme:1:00787105") -> dict[str, Any]:
    return {
        "enrollment_type": "B2BENRICH",
        "organization_info": {
            "organization_id": 141982,
            "location_id": 244648,
            "client_id": 329209,
            "contact_email_address": "admin@example.com",
            "completion_document_shipping_preference": "EML",
        },
        "learner_info": {
            "first_name": "Joe",
            "last_name": "Smith",
            "gender": "M",
            "email_address": "joe.smith@example.com",
            "phone_number": "5551234567",
            "alternate_id": alternate_id,
            "address": {
                "address_1": "999 18th st",
                "city": "Denver",
                "state": "CO",
                "postal_code": "80202",
                "country": "USA",
            },
        },
        "program_info": {"program_id": "00787105"},
    }


def learner(alternate_id: str = "eduhook:acme:1:00787105") -> LearnerRequest:
    return LearnerRequest.model_validate(learner_body(alternate_id))


def ok_result(request: httpx.Request) -> httpx.Response:
    items = orjson.loads(request.content)
    return httpx.Response(
        200,
        json=[
            {
                "enrollment_status": "X",
                "order_number": 51775 + i,
                "learner_id": str(56012279 + i),
                "reference_id": f"R{i}",
                "errors": [],
                "links": [],
            }
            for i in range(len(items))
        ],
    )


# Tokens ---------------------------------------------------------------------------------------


def test_token_request_uses_the_documented_header_and_form() -> None:
    fake = FakePennFoster(ok_result)
    make_client(fake).create_learners([learner()])
    (token_request,) = fake.token_requests
    assert token_request.method == "POST"
    assert token_request.headers["authorization"] == base64.b64encode(f"client-1:{SECRET}".encode()).decode()
    assert parse_qs(token_request.content.decode()) == {
        "grant_type": ["client_credentials"],
        "api_key": [API_KEY],
    }
    assert fake.bearers() == ["Bearer tok-1"]


@pytest.mark.parametrize("expires_in", ["3600", 3600, "3600.0"])
def test_expires_in_may_be_a_string_or_a_number(expires_in: Any) -> None:
    fake = FakePennFoster(ok_result, expires_in=expires_in)
    client = make_client(fake)
    client.create_learners([learner()])
    client.create_learners([learner()])
    assert len(fake.token_requests) == 1


@pytest.mark.parametrize("expires_in", [None, "soon", 0])
def test_unusable_expires_in_is_partner_data_error(expires_in: Any) -> None:
    fake = FakePennFoster(ok_result, expires_in=expires_in)
    with pytest.raises(PartnerDataError, match="expires_in"):
        make_client(fake).create_learners([learner()])


def test_token_is_shared_through_redis_by_two_clients(redis_url: str) -> None:
    fake = FakePennFoster(ok_result)
    clock = Clock()
    first = make_client(fake, cache=RedisTokenCache(redis.Redis.from_url(redis_url)), clock=clock)
    second = make_client(fake, cache=RedisTokenCache(redis.Redis.from_url(redis_url)), clock=clock)
    first.create_learners([learner()])
    second.create_learners([learner()])
    assert len(fake.token_requests) == 1
    assert fake.bearers() == ["Bearer tok-1", "Bearer tok-1"]
    keys = redis.Redis.from_url(redis_url).keys("*")
    assert len(keys) == 1
    assert SECRET.encode() not in keys[0] and b"client-1" not in keys[0]
    assert 0 < redis.Redis.from_url(redis_url).ttl(keys[0]) <= 3600 - 60


def test_token_is_renewed_shortly_before_expiry_on_the_injected_clock() -> None:
    fake = FakePennFoster(ok_result)
    clock = Clock()
    client = make_client(fake, clock=clock)
    client.create_learners([learner()])
    clock.now += 3600 - 61
    client.create_learners([learner()])
    assert len(fake.token_requests) == 1
    clock.now += 2  # now inside the 60 s margin
    client.create_learners([learner()])
    assert fake.bearers() == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2"]


def test_401_drops_the_token_refreshes_and_retries_once(redis_url: str) -> None:
    calls = 0

    def api(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(401, json={"message": "denied"}) if calls == 1 else ok_result(request)

    fake = FakePennFoster(api)
    cache = RedisTokenCache(redis.Redis.from_url(redis_url))
    results = make_client(fake, cache=cache).create_learners([learner()])
    assert results[0].student_id == "56012279"
    assert fake.bearers() == ["Bearer tok-1", "Bearer tok-2"]
    # The fresh token replaced the refused one for every worker.
    assert make_client(fake, cache=cache).tokens.current().access_token.get_secret_value() == "tok-2"


def test_second_401_is_a_configuration_error() -> None:
    fake = FakePennFoster(lambda request: httpx.Response(401, json={"message": "denied"}))
    with pytest.raises(ConfigurationError) as info:
        make_client(fake).create_learners([learner()])
    assert info.value.status_code == 401
    assert len(fake.api_requests) == 2 and len(fake.token_requests) == 2


@pytest.mark.parametrize("status", [400, 401])
def test_refused_token_request_is_configuration_error_without_secrets(status: int) -> None:
    fake = FakePennFoster(ok_result)
    fake.token_status = status
    with pytest.raises(ConfigurationError) as info:
        make_client(fake).create_learners([learner()])
    text = str(info.value)
    assert "PENNFOSTER_CLIENT_SECRET" in text
    assert SECRET not in text and API_KEY not in text
    assert fake.api_requests == []


def test_unreachable_token_cache_is_transient() -> None:
    fake = FakePennFoster(ok_result)
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0))
    with pytest.raises(TransientError, match="token cache unavailable"):
        make_client(fake, cache=RedisTokenCache(dead)).create_learners([learner()])
    assert fake.api_requests == []


def test_discard_keeps_a_token_another_worker_already_renewed(redis_url: str) -> None:
    fake = FakePennFoster(ok_result)
    cache = RedisTokenCache(redis.Redis.from_url(redis_url))
    client = make_client(fake, cache=cache)
    stale = client.tokens.current()
    key = client.tokens.key
    fresh = type(stale)(SecretStr("newer"), stale.expires_at + 10, stale.renew_at + 10)
    cache.put(key, fresh, 100)
    client.tokens.reject(stale)
    assert cache.get(key) == fresh
    client.tokens.reject(fresh)
    assert cache.get(key) is None


# Status mapping -------------------------------------------------------------------------------


def test_429_retry_after_seconds_is_transient() -> None:
    fake = FakePennFoster(lambda r: httpx.Response(429, headers={"Retry-After": "17"}, json={"message": "x"}))
    with pytest.raises(TransientError) as info:
        make_client(fake).create_learners([learner()])
    assert info.value.retry_after == 17 and info.value.status_code == 429


def test_503_retry_after_http_date_uses_the_injected_clock() -> None:
    clock = Clock()
    when = email.utils.formatdate(clock.now + 120, usegmt=True)
    fake = FakePennFoster(lambda r: httpx.Response(503, headers={"Retry-After": when}, json={"message": "x"}))
    with pytest.raises(TransientError) as info:
        make_client(fake, clock=clock).create_learners([learner()])
    assert info.value.retry_after == pytest.approx(120, abs=1)


def test_500_is_transient_and_400_permanent_with_the_partner_code() -> None:
    fake = FakePennFoster(lambda r: httpx.Response(500, json={"message": "boom"}))
    with pytest.raises(TransientError):
        make_client(fake).create_learners([learner()])
    body = {
        "message": "Bad request for joe.smith@example.com",
        "errors": [{"error_code": "E607100001", "message": "Invalid parent id"}],
    }
    fake = FakePennFoster(lambda r: httpx.Response(400, json=body))
    with pytest.raises(PermanentError) as info:
        make_client(fake).create_learners([learner()])
    assert not isinstance(info.value, TransientError)
    assert info.value.partner_code == "E607100001" and info.value.status_code == 400
    assert "Invalid parent id" in str(info.value) and "joe.smith" not in str(info.value)


def test_http_error_carrying_the_busy_code_is_transient() -> None:
    body = {"errors": [{"error_code": "E999999001", "message": "Order is currently being processed by: x"}]}
    fake = FakePennFoster(lambda r: httpx.Response(400, json=body))
    with pytest.raises(TransientError) as info:
        make_client(fake).create_learners([learner()])
    assert info.value.partner_code == "E999999001"


def test_malformed_json_is_partner_data_error() -> None:
    fake = FakePennFoster(lambda r: httpx.Response(200, text="<html>gateway</html>"))
    with pytest.raises(PartnerDataError, match="not JSON"):
        make_client(fake).create_learners([learner()])


def test_results_of_the_wrong_shape_are_partner_data_errors() -> None:
    fake = FakePennFoster(lambda r: httpx.Response(200, json=[{"enrollment_status": "X"}] * 2))
    with pytest.raises(PartnerDataError, match="2 results for 1 items"):
        make_client(fake).create_learners([learner()])
    fake = FakePennFoster(lambda r: httpx.Response(200, json=[{"order_number": "1"}]))
    with pytest.raises(PartnerDataError, match="enrollment_status"):
        make_client(fake).create_learners([learner()])


def test_transport_failure_is_transient() -> None:
    def api(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(TransientError, match="connection failed"):
        make_client(FakePennFoster(api)).create_learners([learner()])
