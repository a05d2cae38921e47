"""The Eduframe sandbox enforces Eduframe's per-token window on its own clock, over loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from eduhook.settings import Settings
from handlers.errors import TransientError
from handlers.partners.eduframe import EduframeClient
from sandbox.eduframe import DEFAULT_API_TOKEN, EduframeSeed, Limit, create_app
from sandbox.eduframe.window import RequestWindow, token_label
from sandbox.server import RunningServer

Serve = Callable[[ASGIApp], RunningServer]
AUTH = {"Authorization": f"Bearer {DEFAULT_API_TOKEN}"}
ROUTE = "/_sandbox/eduframe/rate-limit"
LABEL = token_label(DEFAULT_API_TOKEN)


def sandbox(serve: Serve, limit: Limit | None) -> httpx.Client:
    seed = EduframeSeed(rate_limit=limit)
    seed.add_offering(code="C1")
    return httpx.Client(base_url=serve(create_app(seed.to_dict())).url, headers=AUTH)


def read(api: httpx.Client, times: int) -> list[int]:
    return [api.get("/courses/101").status_code for _ in range(times)]


def advance(api: httpx.Client, seconds: float) -> None:
    api.post("/_sandbox/clock", json={"advance": seconds}).raise_for_status()


def window(api: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = api.get(ROUTE).json()
    return answer


def test_past_the_limit_eduframe_answers_429_with_retry_after_and_its_error_body(serve: Serve) -> None:
    api = sandbox(serve, Limit(3, 10))
    assert read(api, 3) == [200, 200, 200]
    refused = api.get("/courses/101")
    assert refused.status_code == 429
    assert refused.json() == {"errors": {}, "code": 429, "message": "Too Many Requests"}
    assert refused.headers["Retry-After"] == "10"
    assert window(api) == {
        "requests": 3,
        "per_seconds": 10.0,
        "served": 3,
        "rejected": 1,
        "tokens": {LABEL: {"served": 3, "rejected": 1, "remaining": 0}},
    }


def test_the_window_slides_on_the_sandbox_clock(serve: Serve) -> None:
    api = sandbox(serve, Limit(3, 10))
    for _ in range(3):
        assert read(api, 1) == [200]
        advance(api, 4)  # calls at 0, 4 and 8 s; now 12 s: the first one has left the window
    assert read(api, 2) == [200, 429]
    assert api.get("/courses/101").headers["Retry-After"] == "2"  # the call at 4 s leaves at 14 s
    advance(api, 3)
    assert read(api, 2) == [200, 429]
    assert window(api)["tokens"][LABEL] == {"served": 5, "rejected": 3, "remaining": 0}


def test_the_default_is_eduframes_500_per_300_seconds(serve: Serve) -> None:
    assert RequestWindow().limit == Limit(500, 300)
    url = serve(create_app({})).url
    assert httpx.get(url + ROUTE).json() == {
        "requests": 500,
        "per_seconds": 300.0,
        "served": 0,
        "rejected": 0,
        "tokens": {},
    }
    assert httpx.get(url + "/_sandbox/state").json()["rate_limit"] == {"requests": 500, "per_seconds": 300.0}


def test_the_control_route_sets_the_limit_or_turns_it_off_and_counts_from_zero(serve: Serve) -> None:
    api = sandbox(serve, None)
    assert read(api, 4) == [200] * 4
    assert window(api)["served"] == 4 and window(api)["requests"] is None
    set_to = api.post(ROUTE, json={"requests": 2, "per_seconds": 60})
    assert set_to.json()["requests"] == 2 and set_to.json()["served"] == 0
    assert read(api, 3) == [200, 200, 429]
    assert api.post(ROUTE, json={"requests": None}).json()["requests"] is None
    assert read(api, 3) == [200] * 3
    assert window(api)["tokens"][LABEL] == {"served": 3, "rejected": 0, "remaining": None}


def test_the_seed_route_and_reset_set_the_limit_too(serve: Serve) -> None:
    api = sandbox(serve, Limit(1, 60))
    api.post("/_sandbox/seed", json={"rate_limit": {"requests": 2, "per_seconds": 60}}).raise_for_status()
    assert read(api, 3) == [200, 200, 429]
    api.post(ROUTE, json={"requests": None})
    api.post("/_sandbox/reset").raise_for_status()
    assert window(api)["requests"] == 1 and window(api)["served"] == 0
    assert read(api, 2) == [200, 429]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"requests": 0, "per_seconds": 300}, "rate_limit.requests"),
        ({"requests": -5, "per_seconds": 300}, "rate_limit.requests"),
        ({"requests": "abc", "per_seconds": 300}, "rate_limit.requests"),
        ({"requests": True, "per_seconds": 300}, "rate_limit.requests"),
        ({"requests": 20}, "rate_limit.per_seconds"),
        ({"requests": 20, "per_seconds": 0}, "rate_limit.per_seconds"),
        ({"requests": 20, "per_seconds": "10"}, "rate_limit.per_seconds"),
        ({"requests": 20, "per_seconds": 10, "burst": 3}, "burst"),
        ([20, 10], "expected an object"),
    ],
)
def test_a_bad_limit_is_a_400_naming_the_key_and_changes_nothing(
    serve: Serve, body: object, named: str
) -> None:
    api = sandbox(serve, Limit(7, 30))
    answer = api.post(ROUTE, json=body)
    assert answer.status_code == 400 and named in answer.json()["error"]
    assert window(api)["requests"] == 7
    with pytest.raises(ValueError, match="rate_limit"):
        Limit.from_json(body)


def test_calls_without_the_token_control_routes_and_faults_use_no_budget(serve: Serve) -> None:
    api = sandbox(serve, Limit(2, 60))
    course = api.base_url.join("/courses/101")
    assert httpx.get(course).status_code == 401
    assert httpx.get(course, headers={"Authorization": "Bearer x"}).status_code == 401
    api.get("/_sandbox/state").raise_for_status()
    api.post("/_sandbox/faults", json={"kind": "status", "status": 503, "count": 2}).raise_for_status()
    assert read(api, 5) == [503, 503, 200, 200, 429]
    assert window(api)["tokens"] == {LABEL: {"served": 2, "rejected": 1, "remaining": 0}}


def test_eduframe_client_reads_the_429_as_transient_with_its_retry_after(serve: Serve) -> None:
    api = sandbox(serve, Limit(1, 30))
    client = EduframeClient.from_settings(
        Settings(eduframe_api_url=str(api.base_url), eduframe_api_token=DEFAULT_API_TOKEN)
    )
    assert client.get_course(101).code == "C1"
    with pytest.raises(TransientError) as raised:
        client.get_course(101)
    assert raised.value.retry_after == 30
