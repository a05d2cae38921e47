"""PennFosterClient against the Penn Foster sandbox over loopback HTTP, tokens shared in real Redis."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
from starlette.types import ASGIApp

from eduhook.settings import Settings
from handlers.errors import AlreadyDoneError, ConfigurationError, TransientError
from handlers.partners.pennfoster import (
    CancelRequest,
    LeadRequest,
    LearnerRequest,
    PennFosterClient,
    RedisTokenCache,
    classify_learner_result,
    classify_result,
)
from sandbox.pennfoster import DEFAULT_API_KEY, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from sandbox.server import RunningServer
from tests.sandbox.test_pennfoster_sandbox import LEAD, learner

Serve = Callable[[ASGIApp], RunningServer]


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class Env:
    """A running sandbox and a way to build clients on it that share one Redis token cache."""

    def __init__(self, server: RunningServer, redis_url: str, **settings: Any) -> None:
        self.server = server
        self.redis_url = redis_url
        self.clock = Clock()
        self.settings = Settings(
            pennfoster_api_url=server.url,
            pennfoster_client_id=DEFAULT_CLIENT_ID,
            pennfoster_client_secret=DEFAULT_CLIENT_SECRET,
            pennfoster_api_key=DEFAULT_API_KEY,
            **settings,
        )

    def client(self) -> PennFosterClient:
        cache = RedisTokenCache(redis.Redis.from_url(self.redis_url))
        return PennFosterClient.from_settings(self.settings, token_cache=cache, clock=self.clock)

    def control(self, path: str, body: Any = None) -> Any:
        return httpx.post(f"{self.server.url}/_sandbox{path}", json=body).json()

    def state(self) -> Any:
        return httpx.get(f"{self.server.url}/_sandbox/state").json()


def start(serve: Serve, redis_url: str, seed: dict[str, Any] | None = None, **settings: Any) -> Env:
    return Env(serve(create_app(seed)), redis_url, **settings)


def model(alternate_id: str, **changes: Any) -> LearnerRequest:
    return LearnerRequest.model_validate(learner(alternate_id, **changes))


def test_enroll_look_up_and_cancel(serve: Serve, redis_url: str) -> None:
    env = start(serve, redis_url)
    client = env.client()
    results = client.create_learners([model("e-1"), model("e-2")])
    assert [classify_learner_result(r, what="enroll").kind for r in results] == ["succeeded", "succeeded"]
    (found,) = client.find_learners_by_alternate_id("e-2")
    assert found.student_id == results[1].student_id and found.active_status == "Active"
    assert results[0].student_id is not None
    record = client.get_learner(results[0].student_id)
    assert record is not None and record.alternate_id == "e-1"
    assert client.get_learner("1") is None
    assert client.find_learners_by_alternate_id("nobody") == []
    page = client.list_learners(141982, page_number=1, rows_per_page=1)
    assert (page.page_count, page.record_count, len(page.results)) == (2, 2, 1)
    receipt = client.cancel_learner(
        CancelRequest(organization_id=141982, alternate_id="e-1", program_id="00787105")
    )
    assert receipt.student_id == results[0].student_id
    assert [c["alternate_id"] for c in env.state()["cancel_requests"]] == ["e-1"]
    (lead,) = client.create_leads([LeadRequest.model_validate(LEAD)])
    assert classify_result(lead, what="lead").kind == "succeeded"
    org = client.get_organization(141982, 244648, 329209)
    assert org.locations[0].clients[0].client_id == 329209
    assert env.state()["tokens_issued"] == 1


def test_a_second_new_learner_under_one_alternate_id_means_the_learner_exists(
    serve: Serve, redis_url: str
) -> None:
    client = start(serve, redis_url).client()
    client.create_learners([model("dup")])
    (again,) = client.create_learners([model("dup", program_info__program_id="MBC01105")])
    outcome = classify_learner_result(again, what="enroll")
    assert outcome.kind == "exists"  # not done: Penn Foster knows the learner, not this program
    assert outcome.error is not None and outcome.error.partner_code == "E608600001"
    # For a lead, whose alternate id names one lead in one program, the same code is done.
    with pytest.raises(AlreadyDoneError) as info:
        classify_result(again, what="lead").raise_error()
    assert info.value.partner_code == "E608600001"


def test_busy_item_is_transient(serve: Serve, redis_url: str) -> None:
    env = start(serve, redis_url)
    env.control("/pennfoster/item-errors", {"code": "E999999001", "count": 1})
    first, second = env.client().create_learners([model("b-1"), model("b-2")])
    assert classify_learner_result(first, what="enroll").kind == "transient"
    assert classify_learner_result(second, what="enroll").kind == "succeeded"


def test_two_clients_share_one_token_and_recover_from_revocation(serve: Serve, redis_url: str) -> None:
    env = start(serve, redis_url)
    env.client().get_organization(141982)
    env.client().get_organization(143738)
    assert env.state()["tokens_issued"] == 1
    env.control("/pennfoster/revoke-tokens")
    env.client().get_organization(141982)  # 401 → new token → retried once
    assert env.state()["tokens_issued"] == 2
    env.client().get_organization(141982)
    assert env.state()["tokens_issued"] == 2


def test_expiry_on_either_clock_leads_to_a_new_token(serve: Serve, redis_url: str) -> None:
    env = start(serve, redis_url, {"token_ttl": 5})
    client = env.client()
    client.get_organization(141982)
    env.control("/clock", {"advance": 6})  # the sandbox expires the token first
    client.get_organization(141982)
    assert env.state()["tokens_issued"] == 2
    env.clock.now += 3  # past half of the 5 s lifetime: renewed before Penn Foster refuses it
    httpx.delete(f"{env.server.url}/_sandbox/requests")
    client.get_organization(141982)
    calls = httpx.get(f"{env.server.url}/_sandbox/requests").json()
    assert [c["path"] for c in calls] == ["/oauth/token", "/api/v3/b2b/organizations/141982"]


def test_wrong_credentials_are_a_configuration_error(serve: Serve, redis_url: str) -> None:
    env = start(serve, redis_url, {"api_key": "another"})
    with pytest.raises(ConfigurationError) as info:
        env.client().get_organization(141982)
    assert info.value.status_code == 401 and DEFAULT_CLIENT_SECRET not in str(info.value)


def test_21_learners_never_reach_the_sandbox(serve: Serve, redis_url: str) -> None:
    env = start(serve, redis_url)
    with pytest.raises(ValueError, match="at most 20"):
        env.client().create_learners([model(f"m-{i}") for i in range(21)])
    assert httpx.get(f"{env.server.url}/_sandbox/requests").json() == []


def test_sandbox_503_with_retry_after_is_transient(serve: Serve, redis_url: str) -> None:
    env = start(serve, redis_url)
    env.control("/faults", {"kind": "status", "status": 503, "retry_after": 30, "path": "/api/"})
    with pytest.raises(TransientError) as info:
        env.client().create_learners([model("f-1")])
    assert info.value.retry_after == 30 and info.value.status_code == 503
    assert env.state()["learners"] == []


def test_the_first_token_is_fetched_once_by_clients_racing_for_it(serve: Serve, redis_url: str) -> None:
    """Eight clients (as eight worker processes would) start at once with an empty cache: one fetch."""
    env = start(serve, redis_url)
    clients = [env.client() for _ in range(8)]
    go = threading.Barrier(len(clients))

    def first_call(client: PennFosterClient) -> int:
        go.wait()
        return client.get_organization(141982, 244648, 329209).locations[0].clients[0].client_id

    with ThreadPoolExecutor(len(clients)) as pool:
        assert list(pool.map(first_call, clients)) == [329209] * len(clients)
    assert env.state()["tokens_issued"] == 1
