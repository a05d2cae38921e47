"""StudyAbroad101 sandbox over loopback HTTP: it enforces the partner's auth, and the client works with it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.types import ASGIApp

from eduhook.settings import Settings
from handlers.errors import ConfigurationError, TransientError
from handlers.partners.studyabroad101 import StudyAbroad101Client
from handlers.partners.studyabroad101.signing import auth_headers, format_date, sign, signature_string
from sandbox.base import SandboxClock
from sandbox.server import RunningServer, serve_in_thread
from sandbox.studyabroad101 import DEFAULT_API_KEY, DEFAULT_API_USER, build_leads, create_app

T = datetime(2015, 9, 23, 17, 43, 56, tzinfo=UTC).timestamp()

Serve = Callable[[ASGIApp], RunningServer]


@pytest.fixture
def sandbox(serve: Serve) -> Callable[..., str]:
    """``sandbox(seed=None)`` → the URL of a sandbox whose clock stands still at ``T``."""

    def start(seed: dict[str, Any] | None = None) -> str:
        return serve(create_app(seed, clock=SandboxClock(now=lambda: T))).url

    return start


@pytest.fixture(scope="module")
def doc_url() -> Iterator[str]:
    """One sandbox with the documentation's data shared by the tests that only read from it."""
    server = serve_in_thread(create_app(clock=SandboxClock(now=lambda: T)))
    yield server.url
    server.stop()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def signed_get(
    http: httpx.Client,
    url: str,
    target: str,
    *,
    user: str = DEFAULT_API_USER,
    key: str = DEFAULT_API_KEY,
    at: float = T,
    signed_target: str | None = None,
    drop: str | None = None,
) -> httpx.Response:
    headers = auth_headers("GET", signed_target or target, user=user, api_key=key, now=lambda: at)
    if drop:
        del headers[drop]
    return http.get(f"{url}/{target}", headers=headers)


def error_of(response: httpx.Response) -> str:
    assert response.status_code == 401, response.text
    error: str = response.json()["error"]
    return error


def client_for(
    url: str, *, user: str = DEFAULT_API_USER, key: str = DEFAULT_API_KEY, at: float = T
) -> StudyAbroad101Client:
    return StudyAbroad101Client(
        httpx.Client(base_url=url), api_user=user, api_key=SecretStr(key), clock=lambda: at
    )


# The documented behaviour ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "ids"),
    [
        ("api/leads", [1, 3, 7, 11, 14, 15, 16, 17, 20]),
        ("api/leads?created_after=2015-08-23&created_before=2015-08-25", [7]),
        ("api/leads?program_id=7", [11]),
        ("api/leads?limit=4&offset=1", [3, 7, 11, 14]),
        ("api/leads/20", [20]),
        ("api/leads/21", []),
        ("api/reviews", [2, 4, 6, 8, 9, 10]),
        ("api/reviews?created_after=2015-08-23&created_before=2015-08-25", [4]),
        ("api/reviews?program_id=16", [6]),
        ("api/reviews?limit=3&offset=1", [4, 6, 8]),
    ],
)
def test_documented_requests(doc_url: str, http: httpx.Client, target: str, ids: list[int]) -> None:
    response = signed_get(http, doc_url, target)
    assert response.status_code == 200
    assert [record["id"] for record in response.json()] == ids


def test_review_answers(doc_url: str, http: httpx.Client) -> None:
    url = doc_url
    assert signed_get(http, url, "api/reviews/1/answers").json() == []
    assert [a["answer"] for a in signed_get(http, url, "api/reviews/2/answers").json()] == ["Yes"]


def test_default_limit_is_20_and_dates_are_exclusive(sandbox: Callable[..., str], http: httpx.Client) -> None:
    url = sandbox({"leads": build_leads(25, first_day=date(2015, 9, 1), days_apart=1)})
    assert len(signed_get(http, url, "api/leads").json()) == 20
    between = signed_get(http, url, "api/leads?created_after=2015-09-02&created_before=2015-09-04").json()
    assert [(lead["id"], lead["created_at_string"]) for lead in between] == [(3, "09/03/2015")]


@pytest.mark.parametrize("query", ["created_after=23-08-2015", "limit=0", "offset=-1", "program_id=x"])
def test_unreadable_filter_is_400(doc_url: str, http: httpx.Client, query: str) -> None:
    response = signed_get(http, doc_url, f"api/leads?{query}")
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidParameter"


def test_only_get_is_served(doc_url: str, http: httpx.Client) -> None:
    url = doc_url
    headers = auth_headers("POST", "api/leads", user=DEFAULT_API_USER, api_key=DEFAULT_API_KEY, now=lambda: T)
    assert http.post(f"{url}/api/leads", headers=headers, json={}).status_code == 405


# Authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "error"),
    [
        ("X-A101-Auth", "AuthHeaderMissing"),
        ("X-A101-User", "ClientHeaderMissing"),
        ("X-A101-Date", "DateHeaderMissing"),
    ],
)
def test_missing_header(doc_url: str, http: httpx.Client, header: str, error: str) -> None:
    assert error_of(signed_get(http, doc_url, "api/leads", drop=header)) == error


def test_unknown_user(doc_url: str, http: httpx.Client) -> None:
    assert error_of(signed_get(http, doc_url, "api/leads", user="sample-provider-2")) == "InvalidClient"


def test_wrong_key(doc_url: str, http: httpx.Client) -> None:
    assert error_of(signed_get(http, doc_url, "api/leads", key="not-the-key")) == "InvalidSignature"


def test_signature_covers_the_query_exactly_as_received(doc_url: str, http: httpx.Client) -> None:
    url = doc_url
    sent = "api/leads?offset=1&limit=4"
    assert (
        error_of(signed_get(http, url, sent, signed_target="api/leads?limit=4&offset=1"))
        == "InvalidSignature"
    )
    assert error_of(signed_get(http, url, sent, signed_target="api/leads")) == "InvalidSignature"
    assert signed_get(http, url, sent).status_code == 200


@pytest.mark.parametrize(("skew", "accepted"), [(-61, False), (61, False), (-60, True), (60, True)])
def test_clock_skew_limit_is_60_seconds(
    doc_url: str, http: httpx.Client, skew: float, accepted: bool
) -> None:
    response = signed_get(http, doc_url, "api/leads", at=T + skew)
    if accepted:
        assert response.status_code == 200
    else:
        assert error_of(response) == "AuthTimeDifference"


def test_moving_the_sandbox_clock_makes_a_fresh_date_stale(
    sandbox: Callable[..., str], http: httpx.Client
) -> None:
    url = sandbox()
    assert http.post(f"{url}/_sandbox/clock", json={"advance": 61}).status_code == 200
    assert error_of(signed_get(http, url, "api/leads")) == "AuthTimeDifference"


@pytest.mark.parametrize(
    "date_value", ["Wed, 23 Sep 2015 19:43:56 +0200", "yesterday", "2015-09-23T17:43:56Z"]
)
def test_date_must_be_rfc2822_gmt(doc_url: str, http: httpx.Client, date_value: str) -> None:
    message = signature_string("GET", "api/leads", DEFAULT_API_USER, date_value)
    headers = {
        "X-A101-Date": date_value,
        "X-A101-User": DEFAULT_API_USER,
        "X-A101-Auth": sign(DEFAULT_API_KEY, message),
    }
    assert error_of(http.get(f"{doc_url}/api/leads", headers=headers)) == "DateHeaderMissing"


def test_plus_0000_offset_is_gmt_too(doc_url: str, http: httpx.Client) -> None:
    date_value = format_date(T).replace("GMT", "+0000")
    message = signature_string("GET", "api/leads", DEFAULT_API_USER, date_value)
    headers = {
        "X-A101-Date": date_value,
        "X-A101-User": DEFAULT_API_USER,
        "X-A101-Auth": sign(DEFAULT_API_KEY, message),
    }
    assert http.get(f"{doc_url}/api/leads", headers=headers).status_code == 200


# Control routes -------------------------------------------------------------------------------


def test_seed_route_state_and_reset(sandbox: Callable[..., str], http: httpx.Client) -> None:
    url = sandbox({"leads": build_leads(2)})
    assert http.get(f"{url}/_sandbox/state").json() == {
        "users": [DEFAULT_API_USER],
        "leads": 2,
        "reviews": 0,
        "answers": 0,
    }
    added = http.post(
        f"{url}/_sandbox/seed",
        json={
            "users": {"partner-b": "key-b"},
            "leads": build_leads(3, start_id=2),
            "answers": {"5": [{"id": 1}]},
        },
    )
    assert added.json() == {"users": ["partner-b", DEFAULT_API_USER], "leads": 4, "reviews": 0, "answers": 1}
    assert len(signed_get(http, url, "api/leads", user="partner-b", key="key-b").json()) == 4
    bad = http.post(f"{url}/_sandbox/seed", json={"leads": [{"id": 9, "created_at_string": "2015-09-23"}]})
    assert bad.status_code == 400
    assert "MM/DD/YYYY" in bad.json()["error"]
    assert http.post(f"{url}/_sandbox/reset").status_code == 200
    assert http.get(f"{url}/_sandbox/state").json()["leads"] == 2


def test_state_never_shows_keys(doc_url: str, http: httpx.Client) -> None:
    assert DEFAULT_API_KEY not in http.get(f"{doc_url}/_sandbox/state").text


# The client against the sandbox ---------------------------------------------------------------


def test_client_pages_through_filtered_leads(sandbox: Callable[..., str], http: httpx.Client) -> None:
    seed = {"leads": build_leads(45, program_ids=[8]) + build_leads(5, start_id=100, program_ids=[9])}
    url = sandbox(seed)
    settings = Settings(
        studyabroad101_api_url=url,
        studyabroad101_api_user=DEFAULT_API_USER,
        studyabroad101_api_key=SecretStr(DEFAULT_API_KEY),
    )
    with StudyAbroad101Client.from_settings(settings, clock=lambda: T) as client:
        leads = list(client.iter_leads(program_id=8))
        lead = client.get_lead(100)
        missing = client.get_lead(999)
    assert [lead.id for lead in leads] == list(range(1, 46))
    assert lead is not None
    assert (lead.program_id, lead.created_at) == (9, date(2015, 9, 23))
    assert missing is None
    recorded = http.get(f"{url}/_sandbox/requests", params={"path": "/api/leads"}).json()
    assert [r["query"] for r in recorded[:3]] == [
        "limit=20&offset=0&program_id=8",
        "limit=20&offset=20&program_id=8",
        "limit=20&offset=40&program_id=8",
    ]


def test_client_reads_documented_reviews_and_answers(doc_url: str) -> None:
    with client_for(doc_url) as client:
        reviews = list(client.iter_reviews(page_size=4))
        filtered = client.list_reviews(created_after=date(2015, 8, 23), created_before=date(2015, 8, 25))
        answers = client.list_review_answers(2)
    assert [r.id for r in reviews] == [2, 4, 6, 8, 9, 10]
    assert [r.id for r in filtered] == [4]
    assert [a.answer for a in answers] == ["Yes"]


@pytest.mark.parametrize(
    ("options", "error", "code"),
    [
        ({"key": "wrong"}, ConfigurationError, "InvalidSignature"),
        ({"user": "nobody"}, ConfigurationError, "InvalidClient"),
        ({"at": T - 61}, TransientError, "AuthTimeDifference"),
    ],
)
def test_client_classifies_sandbox_rejections(
    doc_url: str, options: dict[str, Any], error: type[Exception], code: str
) -> None:
    with client_for(doc_url, **options) as client, pytest.raises(error) as caught:
        client.list_leads()
    assert getattr(caught.value, "partner_code", None) == code


def test_client_sees_rate_limit_as_transient(sandbox: Callable[..., str], http: httpx.Client) -> None:
    url = sandbox()
    http.post(f"{url}/_sandbox/faults", json={"kind": "rate_limit", "retry_after": 7, "path": "/api/leads"})
    with client_for(url) as client:
        with pytest.raises(TransientError) as caught:
            client.list_leads()
        assert caught.value.retry_after == 7.0
        assert len(client.list_leads()) == 9
