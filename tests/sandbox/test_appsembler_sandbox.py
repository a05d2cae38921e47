"""The Appsembler sandbox over loopback HTTP: it rejects what Appsembler rejects, and the client works."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from starlette.types import ASGIApp

from eduhook.settings import Settings
from handlers.errors import (
    AlreadyDoneError,
    ConfigurationError,
    InDoubtError,
    PermanentError,
    TransientError,
)
from handlers.partners.appsembler import (
    AccountOutcome,
    AppsemblerClient,
    EnrollmentChange,
    IdentifierError,
    InvalidIdentifier,
    ensure_account,
)
from sandbox.appsembler import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_COURSES,
    DEFAULT_TOKEN,
    create_app,
)
from sandbox.base import SandboxClock
from sandbox.server import RunningServer

DEMO, APP = DEFAULT_COURSES
API = "/appsembler_api/v0"
Serve = Callable[[ASGIApp], RunningServer]
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


@pytest.fixture
def clock() -> SandboxClock:
    return SandboxClock(lambda: 1_700_000_000.0)


@pytest.fixture
def server(serve: Serve, clock: SandboxClock) -> RunningServer:
    return serve(create_app(clock=clock))


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=AUTH) as client:
        yield client


def bulk(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post(f"{API}/bulk-enrollment/bulk-enroll", json=body)


def state(http: httpx.Client) -> dict[str, Any]:
    answer: dict[str, Any] = http.get("/_sandbox/state").json()
    return answer


# Authentication -----------------------------------------------------------------------------


def test_missing_and_invalid_tokens_get_the_exact_bodies(server: RunningServer) -> None:
    url = f"{server.url}{API}/accounts/get-user/honor"
    missing = httpx.get(url)
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Authentication credentials were not provided."}
    basic = httpx.get(url, headers={"Authorization": "Basic eDp5"})
    assert basic.json() == {"detail": "Authentication credentials were not provided."}
    wrong = httpx.get(url, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json() == {"detail": "Invalid Token."}
    assert httpx.get(url, headers=AUTH).status_code == 200


def test_issued_tokens_expire_by_the_sandbox_clock(server: RunningServer, clock: SandboxClock) -> None:
    form = {
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
        "grant_type": "client_credentials",
    }
    issued = httpx.post(f"{server.url}/oauth2/access_token", data={**form, "token_type": "bearer"})
    assert issued.status_code == 200
    body = issued.json()
    assert body["expires_in"] == 36000 and body["token_type"] == "Bearer"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    url = f"{server.url}{API}/accounts/get-user/honor"
    assert httpx.get(url, headers=headers).status_code == 200
    clock.offset += 36001
    expired = httpx.get(url, headers=headers)
    assert expired.status_code == 401 and expired.json() == {"detail": "Invalid Token."}


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"client_id": DEFAULT_CLIENT_ID, "client_secret": "wrong", "grant_type": "client_credentials"},
            401,
            "invalid_client",
        ),
        (
            {"client_id": "who", "client_secret": DEFAULT_CLIENT_SECRET, "grant_type": "client_credentials"},
            401,
            "invalid_client",
        ),
        (
            {
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
                "grant_type": "password",
            },
            400,
            "unsupported_grant_type",
        ),
        ({"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}, 400, "invalid_request"),
    ],
)
def test_token_endpoint_rejections(
    server: RunningServer, form: dict[str, str], status: int, error: str
) -> None:
    answer = httpx.post(f"{server.url}/oauth2/access_token", data=form)
    assert answer.status_code == status
    assert answer.json()["error"] == error


# Accounts -----------------------------------------------------------------------------------


def test_create_account_requires_every_field(http: httpx.Client) -> None:
    answer = http.post(f"{API}/accounts/create", json={"username": "x1", "name": ""})
    assert answer.status_code == 400
    assert answer.json() == {
        "password": ["This field is required."],
        "email": ["This field is required."],
        "name": ["This field may not be blank."],
    }


def test_create_account_answers_with_the_trailing_space_key_and_409s_duplicates(http: httpx.Client) -> None:
    body = {"username": "staff55", "password": "edx", "email": "staff55@example.com", "name": "stafftest"}
    created = http.post(f"{API}/accounts/create", json=body)
    assert created.status_code == 200
    assert list(created.json()) == ["user_id "]
    same_email = {**body, "username": "other", "email": "STAFF55@example.com"}
    same_username = {**body, "email": "other@example.com", "username": "Staff55"}
    for dup in (same_email, same_username):
        answer = http.post(f"{API}/accounts/create", json=dup)
        assert answer.status_code == 409 and answer.json() == {"user_message": "User already exists"}
    assert http.get(f"{API}/accounts/get-user/staff55").json() == {"user_id": "staff55"}
    assert http.get(f"{API}/accounts/get-user/nobody").status_code == 404


@pytest.mark.parametrize(
    "change", [{"email": "not-an-email"}, {"username": "has space"}, {"username": "x"}, {"name": 5}]
)
def test_create_account_wrong_values(http: httpx.Client, change: dict[str, Any]) -> None:
    body = {"username": "okname", "password": "edx", "email": "ok@example.com", "name": "Ok", **change}
    answer = http.post(f"{API}/accounts/create", json=body)
    assert answer.status_code == 400
    assert answer.json() == {"user_message": "Wrong parameters on user creation"}


# Bulk enrollment ----------------------------------------------------------------------------


def test_bulk_enroll_requires_fields(http: httpx.Client) -> None:
    answer = bulk(http, action="enroll", courses=DEMO)
    assert answer.status_code == 400 and answer.json() == {"identifiers": ["This field is required."]}
    answer = bulk(http, identifiers="honor", courses=DEMO, action="promote", auto_enroll="maybe")
    assert answer.json() == {
        "action": ['"promote" is not a valid choice.'],
        "auto_enroll": ["Must be a valid boolean."],
    }


def test_course_keys_are_not_trimmed(http: httpx.Client) -> None:
    answer = bulk(http, action="enroll", identifiers="honor", courses=f"{DEMO}, {APP}")
    assert answer.status_code == 400
    assert answer.json() == {"courses": [f"Course key not valid:  {APP}"]}
    assert bulk(http, action="enroll", identifiers="honor", courses="DemoX").json() == {
        "courses": ["Course key not valid: DemoX"]
    }


def test_unknown_course_is_404_and_changes_nothing(http: httpx.Client) -> None:
    answer = bulk(
        http, action="enroll", identifiers="new@example.com", courses=f"{APP},course-v1:No+Such+Course"
    )
    assert answer.status_code == 404 and answer.json() == {"detail": "Not found."}
    assert state(http)["allowed"] == {}


def test_bulk_enroll_per_identifier_semantics(http: httpx.Client) -> None:
    http.post("/_sandbox/identifier-errors", json={"identifiers": ["boom@example.com"]})
    answer = bulk(
        http,
        action="enroll",
        identifiers="honor, new@example.com\nghost,boom@example.com",
        courses=APP,
        auto_enroll=True,
        email_students=False,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["action"] == "enroll" and body["auto_enroll"] is True and body["email_students"] is False
    course = body["courses"][APP]
    assert course["action"] == "enroll" and course["auto_enroll"] is True
    honor, new, ghost, boom = course["results"]
    assert honor == {
        "identifier": "honor",
        "before": {"user": True, "enrollment": False, "allowed": False, "auto_enroll": False},
        "after": {"user": True, "enrollment": True, "allowed": False, "auto_enroll": False},
    }
    assert new["after"] == {"user": False, "enrollment": False, "allowed": True, "auto_enroll": True}
    assert ghost == {"identifier": "ghost", "invalidIdentifier": True}
    assert boom == {"identifier": "boom@example.com", "error": True}
    again = bulk(http, action="enroll", identifiers="honor@example.com", courses=APP).json()
    repeat = again["courses"][APP]["results"][0]
    assert repeat["before"] == repeat["after"] == honor["after"]  # re-enrolling is a no-op
    snapshot = state(http)
    assert snapshot["enrollments"][APP] == ["honor"]
    assert snapshot["allowed"][APP] == [{"email": "new@example.com", "auto_enroll": True}]


def test_registration_turns_allowed_into_enrollment_and_unenroll_clears_both(http: httpx.Client) -> None:
    bulk(http, action="enroll", identifiers="new@example.com", courses=DEMO, auto_enroll=True)
    created = http.post(
        f"{API}/accounts/create",
        json={"username": "newbie", "password": "edx", "email": "new@example.com", "name": "New"},
    )
    assert created.status_code == 200
    assert "newbie" in state(http)["enrollments"][DEMO]
    result = bulk(http, action="unenroll", identifiers="newbie", courses=DEMO).json()["courses"][DEMO][
        "results"
    ][0]
    assert result["before"] == {"user": True, "enrollment": True, "allowed": True, "auto_enroll": True}
    assert result["after"] == {"user": True, "enrollment": False, "allowed": False, "auto_enroll": False}


# Enrollment codes and analytics -------------------------------------------------------------


def test_enrollment_code_lifecycle(http: httpx.Client) -> None:
    generated = http.post(
        f"{API}/enrollment-codes/generate", json={"course_id": APP, "total_registration_codes": "2"}
    )
    assert generated.status_code == 200
    body = generated.json()
    assert body["course_url"] == f"/courses/{APP}/about" and len(body["codes"]) == 2
    code = body["codes"][0]
    redeem = {"email": "honor@example.com", "enrollment_code": code}
    assert http.post(f"{API}/enrollment-codes/enroll-user", json=redeem).json() == {"success": True}
    used = http.post(f"{API}/enrollment-codes/enroll-user", json=redeem)
    assert used.status_code == 400 and used.json()["reason"] == "Enrollment code error."
    second = {"email": "honor@example.com", "enrollment_code": body["codes"][1]}
    assert (
        http.post(f"{API}/enrollment-codes/enroll-user", json=second).json()["reason"] == "Already enrolled."
    )
    cancel = http.post(f"{API}/enrollment-codes/status", json={"enrollment_code": code, "action": "cancel"})
    assert cancel.json() == {"success": True}
    snapshot = state(http)
    assert "honor" not in snapshot["enrollments"][APP]  # cancelling unenrolls the code's user
    assert snapshot["codes"][code] == {"course_id": APP, "valid": False, "redeemed_by": None}
    unknown = http.post(
        f"{API}/enrollment-codes/status", json={"enrollment_code": "NOPE", "action": "restore"}
    )
    assert unknown.status_code == 400
    assert unknown.json() == {"success": False, "reason": "The enrollment code (NOPE) was not found"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"total_registration_codes": 1}, 400, "course_id"),
        ({"course_id": " " + DEMO, "total_registration_codes": 1}, 400, "course_id"),
        ({"course_id": DEMO, "total_registration_codes": "many"}, 400, "total_registration_codes"),
        ({"course_id": "course-v1:No+Such+Course", "total_registration_codes": 1}, 404, "detail"),
    ],
)
def test_generate_rejections(http: httpx.Client, body: dict[str, Any], status: int, field: str) -> None:
    answer = http.post(f"{API}/enrollment-codes/generate", json=body)
    assert answer.status_code == status and field in answer.json()


def test_analytics_filters(http: httpx.Client, clock: SandboxClock) -> None:
    clock.offset += 86400 * 3
    http.post(
        f"{API}/accounts/create",
        json={"username": "late", "password": "edx", "email": "late@example.com", "name": "Late"},
    )
    everyone = http.get(f"{API}/analytics/accounts/batch").json()
    assert [a["username"] for a in everyone] == ["honor", "late"]
    assert everyone[0]["date_joined"].endswith("Z")
    recent = http.get(f"{API}/analytics/accounts/batch", params={"updated_min": "2023-11-16"}).json()
    assert [a["username"] for a in recent] == ["late"]
    assert http.get(f"{API}/analytics/accounts/batch", params={"updated_max": "nonsense"}).status_code == 400
    bulk(http, action="unenroll", identifiers="honor", courses=DEMO)
    rows = http.get(f"{API}/analytics/enrollment/batch", params={"course_id": DEMO}).json()
    assert [(r["username"], r["course_id"]) for r in rows] == [
        ("honor", DEMO)
    ]  # deactivated rows stay listed
    assert http.get(f"{API}/analytics/enrollment/batch", params={"course_id": APP}).json() == []
    assert http.get(f"{API}/analytics/enrollment/batch", params={"course_id": "bad"}).status_code == 400


def test_seed_and_reset(serve: Serve) -> None:
    seed = {
        "courses": ["course-v1:Org+Code+Run"],
        "tokens": ["t1"],
        "users": [{"username": "ann", "email": "ann@example.com"}],
        "enrollments": {"course-v1:Org+Code+Run": ["ann"]},
        "allowed": {"course-v1:Org+Code+Run": ["later@example.com"]},
        "codes": {"course-v1:Org+Code+Run": ["CODE0001"]},
    }
    server = serve(create_app(seed))
    with httpx.Client(base_url=server.url, headers={"Authorization": "Bearer t1"}) as http:
        http.post(
            f"{API}/accounts/create",
            json={"username": "bob", "password": "edx", "email": "bob@example.com", "name": "Bob"},
        )
        before = state(http)
        assert [a["username"] for a in before["accounts"]] == ["ann", "bob"]
        assert before["codes"]["CODE0001"]["valid"] is True
        assert before["allowed"] == {
            "course-v1:Org+Code+Run": [{"email": "later@example.com", "auto_enroll": True}]
        }
        assert "password" not in before["accounts"][0]
        http.post("/_sandbox/reset")
        assert [a["username"] for a in state(http)["accounts"]] == ["ann"]
        assert (
            http.get(f"{API}/accounts/get-user/ann", headers=AUTH).status_code == 401
        )  # default token not seeded


# The client against the sandbox -------------------------------------------------------------


@pytest.fixture
def client(server: RunningServer, clock: SandboxClock) -> Iterator[AppsemblerClient]:
    settings = Settings(
        appsembler_api_url=server.url,
        appsembler_api_token=None,
        appsembler_client_id=DEFAULT_CLIENT_ID,
        appsembler_client_secret=SecretStr(DEFAULT_CLIENT_SECRET),
    )
    with AppsemblerClient.from_settings(settings, clock=clock) as appsembler:
        yield appsembler


def test_client_end_to_end(client: AppsemblerClient, http: httpx.Client) -> None:
    user_id = client.create_account("jdoe", SecretStr("pw-123"), "jdoe@example.com", "Jane Doe")
    assert isinstance(user_id, int) and user_id > 1
    with pytest.raises(AlreadyDoneError):
        client.create_account("jdoe", "pw-123", "jdoe@example.com", "Jane Doe")
    found = client.get_user("jdoe")
    assert found is not None and found.username == "jdoe"
    assert client.get_user("nobody") is None

    http.post("/_sandbox/identifier-errors", json={"identifiers": ["boom@example.com"]})
    result = client.bulk_enroll(
        ["jdoe", "future@example.com", "ghost", "boom@example.com"], [DEMO, APP], auto_enroll=True
    )
    for course in (DEMO, APP):
        jdoe = result.result(course, "jdoe")
        assert isinstance(jdoe, EnrollmentChange) and jdoe.enrolled
        future = result.result(course, "future@example.com")
        assert isinstance(future, EnrollmentChange) and future.allowed
        assert isinstance(result.result(course, "ghost"), InvalidIdentifier)
        assert isinstance(result.result(course, "boom@example.com"), IdentifierError)
    again = client.bulk_enroll(["jdoe"], [DEMO]).result(DEMO, "jdoe")
    assert isinstance(again, EnrollmentChange) and not again.changed

    gone = client.bulk_unenroll(["jdoe"], [APP]).result(APP, "jdoe")
    assert isinstance(gone, EnrollmentChange) and gone.changed and not gone.enrolled
    assert "jdoe" not in state(http)["enrollments"][APP]

    with pytest.raises(PermanentError) as info:
        client.bulk_enroll(["jdoe"], ["course-v1:No+Such+Course"])
    assert info.value.status_code == 404 and "course-v1:No+Such+Course" in str(info.value)


def test_client_codes_and_analytics_against_the_sandbox(client: AppsemblerClient) -> None:
    codes = client.generate_enrollment_codes(APP, 3)
    assert len(codes.codes) == 3 and codes.course_id == APP
    client.enroll_with_code("honor@example.com", codes.codes[0])
    with pytest.raises(AlreadyDoneError):
        client.enroll_with_code("honor@example.com", codes.codes[1])
    with pytest.raises(PermanentError, match="User not found"):
        client.enroll_with_code("nobody@example.com", codes.codes[1])
    client.set_enrollment_code_status(codes.codes[0], "restore")
    client.enroll_with_code("honor@example.com", codes.codes[0])  # restored: usable again
    with pytest.raises(PermanentError, match=r"\(NOPE\) was not found"):
        client.set_enrollment_code_status("NOPE", "cancel")
    assert [a.username for a in client.accounts_batch()] == ["honor"]
    enrolled = client.enrollments_batch(course_id=APP)
    assert [(e.username, e.course_id) for e in enrolled] == [("honor", APP)]


def test_client_renews_a_token_the_sandbox_forgot(client: AppsemblerClient, http: httpx.Client) -> None:
    assert client.get_user("honor") is not None
    http.post(
        "/_sandbox/reset"
    )  # forgets issued tokens and the request log; the client keeps its cached token
    assert client.get_user("honor") is not None
    log = [(r["method"], r["path"]) for r in http.get("/_sandbox/requests").json()]
    get_user = ("GET", f"{API}/accounts/get-user/honor")
    assert log == [get_user, ("POST", "/oauth2/access_token"), get_user]  # 401, renew, retry


def test_client_renews_before_expiry_on_the_shared_clock(
    client: AppsemblerClient, http: httpx.Client, clock: SandboxClock
) -> None:
    assert client.get_user("honor") is not None
    http.delete("/_sandbox/requests")
    clock.offset += 36000 - 30  # inside the client's refresh margin, before the sandbox's expiry
    assert client.get_user("honor") is not None
    log = [(r["method"], r["path"]) for r in http.get("/_sandbox/requests").json()]
    assert log == [("POST", "/oauth2/access_token"), ("GET", f"{API}/accounts/get-user/honor")]


def test_client_sees_rate_limits_and_outages_as_transient(
    client: AppsemblerClient, http: httpx.Client
) -> None:
    http.post("/_sandbox/faults", json={"kind": "rate_limit", "path": f"{API}/bulk", "retry_after": 7})
    with pytest.raises(TransientError) as info:
        client.bulk_enroll(["honor"], [DEMO])
    assert info.value.retry_after == 7.0 and info.value.status_code == 429
    http.post("/_sandbox/faults", json={"kind": "drop", "path": f"{API}/accounts"})
    with pytest.raises(TransientError):
        client.get_user("honor")


def test_client_with_wrong_secret_gets_configuration_error(server: RunningServer) -> None:
    settings = Settings(
        appsembler_api_url=server.url,
        appsembler_api_token=None,
        appsembler_client_id=DEFAULT_CLIENT_ID,
        appsembler_client_secret=SecretStr("wrong"),
    )
    with AppsemblerClient.from_settings(settings) as appsembler, pytest.raises(ConfigurationError) as info:
        appsembler.get_user("honor")
    assert info.value.partner_code == "invalid_client"


def created(http: httpx.Client) -> list[str]:
    return [
        call["body"]["username"]
        for call in http.get("/_sandbox/requests", params={"path": f"{API}/accounts/create"}).json()
    ]


def test_ensure_account_creates_once_and_a_409_means_it_is_there(
    client: AppsemblerClient, http: httpx.Client
) -> None:
    made = ensure_account(client, "ann-1", "ann@example.com", "Ann")
    assert made.username == "ann-1" and isinstance(made.user_id, int) and not made.already_existed
    assert ensure_account(client, "ann-1", "ann@example.com", "Ann") == AccountOutcome(
        "ann-1", already_existed=True
    )
    assert created(http) == ["ann-1", "ann-1"]  # the second one answered 409


def test_an_unanswered_account_creation_is_found_by_get_user_and_not_sent_again(
    server: RunningServer, http: httpx.Client
) -> None:
    settings = Settings(
        appsembler_api_url=server.url, appsembler_api_token=SecretStr(DEFAULT_TOKEN), http_read_timeout=0.3
    )
    with AppsemblerClient.from_settings(settings) as client:
        assert http.post("/_sandbox/late-answers", json={"delay": 1, "count": 1}).json() == {
            "late_answers": [1.0]
        }
        with pytest.raises(InDoubtError, match="timed out"):
            ensure_account(client, "bob-2", "bob@example.com", "Bob")
        assert [a["username"] for a in state(http)["accounts"]][-1] == "bob-2"  # created all the same
        found = ensure_account(client, "bob-2", "bob@example.com", "Bob", look_first=True)
        assert found == AccountOutcome("bob-2", already_existed=True)
        assert created(http) == ["bob-2"]
        # Nothing there yet: the look comes back empty and the account is created.
        fresh = ensure_account(client, "cy-3", "cy@example.com", "Cy", look_first=True)
        assert fresh.user_id is not None and created(http) == ["bob-2", "cy-3"]
    assert http.post("/_sandbox/late-answers", json={"delay": 0}).status_code == 400
