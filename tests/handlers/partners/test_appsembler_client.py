"""AppsemblerClient against httpx.MockTransport: auth, quirks, per-identifier parsing, error mapping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson
import pytest
from pydantic import SecretStr

from eduhook.settings import Settings
from handlers.errors import (
    AlreadyDoneError,
    ConfigurationError,
    PartnerDataError,
    PermanentError,
    TransientError,
)
from handlers.partners.appsembler import (
    AppsemblerClient,
    ClientCredentials,
    EnrollmentChange,
    IdentifierError,
    InvalidIdentifier,
    StaticToken,
    is_course_key,
    validate_course_key,
)

BASE = "https://tenant.tahoe.example"
DEMO = "course-v1:edX+DemoX+Demo_Course"
APP = "course-v1:Appsembler+APP101+1Q2016"
NOW = 1_700_000_000.0

Handler = Callable[[httpx.Request], httpx.Response]


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A MockTransport handler that records requests and answers from a per-path script."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handler(request)

    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def jresp(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=orjson.dumps(body), headers={"content-type": "application/json", **(headers or {})}
    )


def static_client(handler: Handler, clock: Clock | None = None) -> tuple[AppsemblerClient, Recorder]:
    recorder = Recorder(handler)
    http = httpx.Client(base_url=BASE, transport=httpx.MockTransport(recorder))
    return AppsemblerClient(http, StaticToken(SecretStr("static-tok")), clock=clock or Clock()), recorder


def credentials_client(handler: Handler, clock: Clock) -> tuple[AppsemblerClient, Recorder]:
    recorder = Recorder(handler)
    http = httpx.Client(base_url=BASE, transport=httpx.MockTransport(recorder))
    auth = ClientCredentials(http, "cid", SecretStr("csecret"), clock=clock)
    return AppsemblerClient(http, auth, clock=clock), recorder


def token_answer(token: str, expires_in: Any = 36000) -> httpx.Response:
    return jresp(
        200, {"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "scope": "read"}
    )


def change(identifier: str, *, before: tuple[bool, ...], after: tuple[bool, ...]) -> dict[str, Any]:
    keys = ("user", "enrollment", "allowed", "auto_enroll")
    return {
        "identifier": identifier,
        "before": dict(zip(keys, before, strict=True)),
        "after": dict(zip(keys, after, strict=True)),
    }


# Settings and credentials -------------------------------------------------------------------

NO_CREDENTIALS: dict[str, Any] = {
    "appsembler_api_token": None,
    "appsembler_client_id": None,
    "appsembler_client_secret": None,
}


def test_from_settings_without_credentials_names_the_env_vars() -> None:
    settings = Settings(appsembler_api_url=BASE, **NO_CREDENTIALS)
    with pytest.raises(ConfigurationError) as info:
        AppsemblerClient.from_settings(settings)
    assert "APPSEMBLER_API_TOKEN" in str(info.value)
    assert "APPSEMBLER_CLIENT_ID" in str(info.value) and "APPSEMBLER_CLIENT_SECRET" in str(info.value)


def test_from_settings_without_url_names_it() -> None:
    with pytest.raises(ConfigurationError, match="APPSEMBLER_API_URL"):
        AppsemblerClient.from_settings(Settings(appsembler_api_url=None, appsembler_api_token=SecretStr("x")))


def test_client_id_without_secret_is_not_enough() -> None:
    settings = Settings(**{**NO_CREDENTIALS, "appsembler_api_url": BASE, "appsembler_client_id": "cid"})
    with pytest.raises(ConfigurationError, match="APPSEMBLER_CLIENT_SECRET"):
        AppsemblerClient.from_settings(settings)


def test_static_token_is_sent_as_bearer_and_401_is_a_configuration_error() -> None:
    client, rec = static_client(lambda r: jresp(401, {"detail": "Invalid Token."}))
    with pytest.raises(ConfigurationError) as info:
        client.get_user("honor")
    assert rec.requests[0].headers["Authorization"] == "Bearer static-tok"
    assert len(rec.requests) == 1  # a static token cannot be refreshed, so no retry
    assert info.value.partner_code == "invalid_token"
    assert "APPSEMBLER_API_TOKEN" in str(info.value)
    assert "static-tok" not in str(info.value)


def test_missing_credentials_401_has_its_own_code() -> None:
    client, _ = static_client(
        lambda r: jresp(401, {"detail": "Authentication credentials were not provided."})
    )
    with pytest.raises(ConfigurationError) as info:
        client.get_user("honor")
    assert info.value.partner_code == "not_authenticated"


def test_client_credentials_token_is_fetched_with_the_form_and_cached() -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/access_token":
            return token_answer("tok-1")
        return jresp(200, {"user_id": "honor"})

    client, rec = credentials_client(handler, clock)
    client.get_user("honor")
    client.get_user("honor")
    token_calls = [r for r in rec.requests if r.url.path == "/oauth2/access_token"]
    assert len(token_calls) == 1
    form = parse_qs(token_calls[0].content.decode())
    assert form == {
        "client_id": ["cid"],
        "client_secret": ["csecret"],
        "grant_type": ["client_credentials"],
        "token_type": ["bearer"],
    }
    assert token_calls[0].headers["content-type"] == "application/x-www-form-urlencoded"
    assert rec.requests[-1].headers["Authorization"] == "Bearer tok-1"
    assert "csecret" not in repr(client._auth)


def test_token_is_refreshed_shortly_before_expiry() -> None:
    clock = Clock()
    tokens = iter(["tok-1", "tok-2"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/access_token":
            return token_answer(next(tokens), expires_in="36000")  # a string is accepted
        return jresp(200, {"user_id": "honor"})

    client, rec = credentials_client(handler, clock)
    client.get_user("honor")
    clock.now += 36000 - 120  # still well inside the lifetime
    client.get_user("honor")
    assert rec.requests[-1].headers["Authorization"] == "Bearer tok-1"
    clock.now += 90  # within the refresh margin: fetch before the token can lapse
    client.get_user("honor")
    assert rec.requests[-1].headers["Authorization"] == "Bearer tok-2"
    assert rec.paths().count("/oauth2/access_token") == 2


def test_401_refreshes_the_token_once_and_retries() -> None:
    clock = Clock()
    tokens = iter(["stale", "fresh"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/access_token":
            return token_answer(next(tokens))
        if request.headers["Authorization"] == "Bearer stale":
            return jresp(401, {"detail": "Invalid Token."})
        return jresp(200, {"user_id ": 65})

    client, rec = credentials_client(handler, clock)
    assert client.create_account("staff55", "pw", "staff55@example.com", "Staff") == 65
    assert rec.paths() == [
        "/oauth2/access_token",
        "/appsembler_api/v0/accounts/create",
        "/oauth2/access_token",
        "/appsembler_api/v0/accounts/create",
    ]
    # the retried request carries the same body
    assert orjson.loads(rec.requests[1].content) == orjson.loads(rec.requests[3].content)


def test_401_after_refresh_is_a_configuration_error_without_looping() -> None:
    clock = Clock()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/access_token":
            return token_answer("tok")
        return jresp(401, {"detail": "Invalid Token."})

    client, rec = credentials_client(handler, clock)
    with pytest.raises(ConfigurationError, match="APPSEMBLER_CLIENT_ID") as info:
        client.get_user("honor")
    assert info.value.status_code == 401
    assert rec.paths().count("/appsembler_api/v0/accounts/get-user/honor") == 2


def test_refused_client_credentials_name_the_settings() -> None:
    client, _ = credentials_client(lambda r: jresp(401, {"error": "invalid_client"}), Clock())
    with pytest.raises(ConfigurationError) as info:
        client.get_user("honor")
    assert info.value.partner_code == "invalid_client"
    assert "APPSEMBLER_CLIENT_SECRET" in str(info.value)
    assert "csecret" not in str(info.value)


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        orjson.dumps({"token_type": "Bearer"}),
        orjson.dumps({"access_token": "t", "expires_in": "soon"}),
    ],
)
def test_unusable_token_answers_are_partner_data_errors(body: bytes) -> None:
    client, _ = credentials_client(lambda r: httpx.Response(200, content=body), Clock())
    with pytest.raises(PartnerDataError):
        client.get_user("honor")


# Accounts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["user_id ", "user_id"])
def test_create_account_reads_the_id_under_either_key(key: str) -> None:
    client, rec = static_client(lambda r: jresp(200, {key: 65}))
    assert client.create_account("staff55", SecretStr("edx"), "staff55@example.com", "stafftest") == 65
    sent = orjson.loads(rec.requests[0].content)
    assert sent == {
        "username": "staff55",
        "password": "edx",
        "email": "staff55@example.com",
        "name": "stafftest",
    }
    assert rec.requests[0].headers["content-type"] == "application/json"


def test_create_account_409_is_already_done() -> None:
    client, _ = static_client(lambda r: jresp(409, {"user_message": "User already exists"}))
    with pytest.raises(AlreadyDoneError) as info:
        client.create_account("staff55", "edx", "staff55@example.com", "stafftest")
    assert info.value.partner_code == "already_exists"
    assert info.value.error_class == "already_done"


def test_create_account_400_names_fields_never_values() -> None:
    body = {"email": ["Enter a valid email address."], "username": ["This field is required."]}
    client, _ = static_client(lambda r: jresp(400, body))
    with pytest.raises(PermanentError) as info:
        client.create_account("", "edx", "not-an-email@@", "Jane Doe")
    message = str(info.value)
    assert "email" in message and "username" in message
    assert "not-an-email" not in message and "Jane" not in message
    assert info.value.partner_code == "invalid_fields"


def test_create_account_400_user_message_is_quoted() -> None:
    client, _ = static_client(lambda r: jresp(400, {"user_message": "Wrong parameters on user creation"}))
    with pytest.raises(PermanentError, match="Wrong parameters on user creation") as info:
        client.create_account("x", "edx", "x@example.com", "X")
    assert not isinstance(info.value, AlreadyDoneError)


def test_400_parse_error_detail_is_quoted() -> None:
    client, _ = static_client(lambda r: jresp(400, {"detail": "JSON parse error - unexpected character"}))
    with pytest.raises(PermanentError, match="JSON parse error") as info:
        client.create_account("x", "edx", "x@example.com", "X")
    assert info.value.partner_code == "bad_request"


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"{not json", "not JSON"), (orjson.dumps({"user_id ": "abc"}), "numeric user_id"), (b"[]", "object")],
)
def test_create_account_unusable_answers_are_partner_data_errors(content: bytes, problem: str) -> None:
    client, _ = static_client(lambda r: httpx.Response(200, content=content))
    with pytest.raises(PartnerDataError, match=problem):
        client.create_account("x", "edx", "x@example.com", "X")


def test_get_user_found_and_not_found() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/honor"):
            return jresp(200, {"user_id ": "honor"})  # the doc's variant of the key
        return httpx.Response(404)

    client, rec = static_client(handler)
    user = client.get_user("honor")
    assert user is not None and user.username == "honor"
    assert "honor" not in repr(user)
    assert client.get_user("nobody") is None
    assert rec.requests[0].method == "GET"


def test_get_user_refuses_usernames_the_route_cannot_match() -> None:
    client, rec = static_client(lambda r: jresp(200, {}))
    with pytest.raises(PermanentError) as info:
        client.get_user("a/b")
    assert info.value.partner_code == "invalid_username"
    assert rec.requests == []


# Bulk enrollment ----------------------------------------------------------------------------


BULK_ANSWER: dict[str, Any] = {
    "action": "enroll",
    "auto_enroll": True,
    "email_students": False,
    "courses": {
        DEMO: {
            "action": "enroll",
            "auto_enroll": True,
            "results": [
                change("honor", before=(True, False, False, False), after=(True, True, False, False)),
                change(
                    "new@example.com", before=(False, False, False, False), after=(False, False, True, True)
                ),
                {"identifier": "ghost", "invalidIdentifier": True},
                {"identifier": "boom@example.com", "error": True},
            ],
        }
    },
}


def test_bulk_enroll_sends_comma_separated_strings_and_parses_each_result() -> None:
    client, rec = static_client(lambda r: jresp(200, BULK_ANSWER))
    people = ["honor", "new@example.com", "ghost", "boom@example.com"]
    result = client.bulk_enroll(people, [DEMO], auto_enroll=True)
    sent = orjson.loads(rec.requests[0].content)
    assert sent == {
        "action": "enroll",
        "identifiers": "honor,new@example.com,ghost,boom@example.com",
        "courses": DEMO,
        "auto_enroll": True,
        "email_students": False,
    }
    honor = result.result(DEMO, "honor")
    assert isinstance(honor, EnrollmentChange) and honor.enrolled and honor.changed and not honor.allowed
    new = result.result(DEMO, "new@example.com")
    assert isinstance(new, EnrollmentChange) and new.allowed and not new.enrolled
    assert new.after.auto_enroll
    assert isinstance(result.result(DEMO, "ghost"), InvalidIdentifier)
    assert isinstance(result.result(DEMO, "boom@example.com"), IdentifierError)
    assert [(course, r.identifier) for course, r in result.failures()] == [
        (DEMO, "ghost"),
        (DEMO, "boom@example.com"),
    ]
    assert result.courses[DEMO].course_id == DEMO
    assert "new@example.com" not in repr(result)


def test_bulk_unenroll_sends_unenroll_without_auto_enroll() -> None:
    answer = {
        "action": "unenroll",
        "auto_enroll": False,
        "email_students": False,
        "courses": {
            APP: {
                "action": "unenroll",
                "auto_enroll": False,
                "results": [
                    change("honor", before=(True, True, False, False), after=(True, False, False, False))
                ],
            }
        },
    }
    client, rec = static_client(lambda r: jresp(200, answer))
    result = client.bulk_unenroll(["honor"], [APP])
    assert orjson.loads(rec.requests[0].content)["action"] == "unenroll"
    outcome = result.result(APP, "honor")
    assert isinstance(outcome, EnrollmentChange) and not outcome.enrolled and outcome.changed


def test_bulk_enroll_missing_identifier_result_is_partner_data_error() -> None:
    client, _ = static_client(lambda r: jresp(200, BULK_ANSWER))
    with pytest.raises(PartnerDataError, match="identifier #2"):
        client.bulk_enroll(["honor", "someone-else@example.com"], [DEMO])


def test_bulk_enroll_missing_course_is_partner_data_error() -> None:
    client, _ = static_client(lambda r: jresp(200, BULK_ANSWER))
    with pytest.raises(PartnerDataError, match=APP.replace("+", r"\+")):
        client.bulk_enroll(["honor"], [DEMO, APP])


def test_bulk_enroll_result_of_wrong_shape_names_the_place_not_the_values() -> None:
    broken = {
        **BULK_ANSWER,
        "courses": {DEMO: {"action": "enroll", "results": [{"identifier": "x@example.com"}]}},
    }
    client, _ = static_client(lambda r: jresp(200, broken))
    with pytest.raises(PartnerDataError) as info:
        client.bulk_enroll(["x@example.com"], [DEMO])
    assert "before" in str(info.value) and "x@example.com" not in str(info.value)


def test_bad_course_key_400_names_the_course_key() -> None:
    client, _ = static_client(lambda r: jresp(400, {"courses": [f"Course key not valid:  {DEMO}"]}))
    with pytest.raises(PermanentError) as info:
        client.bulk_enroll(["honor"], [DEMO])
    assert DEMO in str(info.value)
    assert info.value.partner_code == "invalid_course_key"


def test_unknown_course_404_names_the_requested_keys() -> None:
    client, _ = static_client(lambda r: jresp(404, {"detail": "Not found."}))
    with pytest.raises(PermanentError) as info:
        client.bulk_enroll(["honor"], [DEMO, APP])
    assert DEMO in str(info.value) and APP in str(info.value)
    assert info.value.partner_code == "not_found"


@pytest.mark.parametrize(
    "course", [f" {DEMO}", "edX/DemoX/Demo_Course", "course-v1:edX+DemoX", "course-v1:a+b+c,d"]
)
def test_client_refuses_malformed_course_keys_before_calling(course: str) -> None:
    client, rec = static_client(lambda r: jresp(200, BULK_ANSWER))
    with pytest.raises(ConfigurationError) as info:
        client.bulk_enroll(["honor"], [course])
    assert course in str(info.value)
    assert rec.requests == []


@pytest.mark.parametrize("identifiers", [["a@example.com,b@example.com"], ["a b"], [""], []])
def test_client_refuses_identifiers_that_would_split(identifiers: list[str]) -> None:
    client, rec = static_client(lambda r: jresp(200, BULK_ANSWER))
    with pytest.raises(PermanentError) as info:
        client.bulk_enroll(identifiers, [DEMO])
    assert "a@example.com" not in str(info.value)
    assert rec.requests == []


def test_course_key_helpers() -> None:
    assert is_course_key(DEMO) and is_course_key("course-v1:Org~x+Code.1+Run-2:3")
    for bad in [f" {DEMO}", f"{DEMO} ", "course-v1:edX+DemoX", "edX/DemoX/Demo", "", None, 5]:
        assert not is_course_key(bad)
    assert validate_course_key(DEMO) == DEMO
    with pytest.raises(ValueError, match="course-v1:Org"):
        validate_course_key("course-v2:a+b+c")


# Transient errors ---------------------------------------------------------------------------


def test_429_retry_after_seconds() -> None:
    client, _ = static_client(
        lambda r: jresp(429, {"detail": "Request was throttled."}, {"Retry-After": "30"})
    )
    with pytest.raises(TransientError) as info:
        client.bulk_enroll(["honor"], [DEMO])
    assert info.value.retry_after == 30.0
    assert info.value.status_code == 429


def test_503_retry_after_http_date_uses_the_injected_clock() -> None:
    clock = Clock()
    when = format_datetime(datetime.fromtimestamp(NOW + 120, UTC), usegmt=True)
    client, _ = static_client(
        lambda r: httpx.Response(503, content=b"<html>down</html>", headers={"Retry-After": when}), clock
    )
    with pytest.raises(TransientError) as info:
        client.get_user("honor")
    assert info.value.retry_after == pytest.approx(120.0)


def test_500_with_html_body_is_transient() -> None:
    client, _ = static_client(lambda r: httpx.Response(500, content=b"<h1>Server Error (500)</h1>"))
    with pytest.raises(TransientError) as info:
        client.create_account("x", "edx", "x@example.com", "X")
    assert info.value.retry_after is None


def test_connection_failure_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, _ = static_client(handler)
    with pytest.raises(TransientError, match="connection failed"):
        client.get_user("honor")


# Enrollment codes and analytics -------------------------------------------------------------


def test_generate_codes() -> None:
    answer = {"course_id": DEMO, "codes": ["VQSG0xsg", "dWvbNXBT"], "course_url": f"/courses/{DEMO}/about"}
    client, rec = static_client(lambda r: jresp(200, answer))
    codes = client.generate_enrollment_codes(DEMO, 2)
    assert codes.codes == ("VQSG0xsg", "dWvbNXBT") and codes.course_url.endswith("/about")
    assert "VQSG0xsg" not in repr(codes)
    assert orjson.loads(rec.requests[0].content) == {"course_id": DEMO, "total_registration_codes": 2}


def test_generate_codes_count_mismatch_is_partner_data_error() -> None:
    answer = {"course_id": DEMO, "codes": ["only-one"], "course_url": "/x"}
    client, _ = static_client(lambda r: jresp(200, answer))
    with pytest.raises(PartnerDataError, match="asked for 3"):
        client.generate_enrollment_codes(DEMO, 3)


@pytest.mark.parametrize("success", [True, "true"])
def test_enroll_with_code_success_in_either_form(success: Any) -> None:
    client, rec = static_client(lambda r: jresp(200, {"success": success}))
    client.enroll_with_code("staff@example.com", "V5QBQMN6")
    assert orjson.loads(rec.requests[0].content) == {
        "email": "staff@example.com",
        "enrollment_code": "V5QBQMN6",
    }


@pytest.mark.parametrize(
    ("reason", "code"),
    [
        ("Course full.", "course_full"),
        ("Enrollment code error.", "code_error"),
        ("User not found", "user_not_found"),
    ],
)
def test_enroll_with_code_reasons_are_permanent(reason: str, code: str) -> None:
    client, _ = static_client(lambda r: jresp(400, {"success": "false", "reason": reason}))
    with pytest.raises(PermanentError, match=reason.rstrip(".")) as info:
        client.enroll_with_code("staff@example.com", "V5QBQMN6")
    assert info.value.partner_code == code
    assert not isinstance(info.value, AlreadyDoneError)


def test_enroll_with_code_already_enrolled_is_already_done() -> None:
    client, _ = static_client(lambda r: jresp(400, {"success": "false", "reason": "Already enrolled."}))
    with pytest.raises(AlreadyDoneError):
        client.enroll_with_code("staff@example.com", "V5QBQMN6")


def test_code_status_unknown_code() -> None:
    reason = "The enrollment code (NOPE) was not found"
    client, rec = static_client(lambda r: jresp(400, {"success": False, "reason": reason}))
    with pytest.raises(PermanentError) as info:
        client.set_enrollment_code_status("NOPE", "cancel")
    assert info.value.partner_code == "code_not_found"
    assert orjson.loads(rec.requests[0].content) == {"enrollment_code": "NOPE", "action": "cancel"}


def test_analytics_batches_send_bounds_and_parse_rows() -> None:
    accounts = [
        {
            "username": "anewuser",
            "date_joined": "2016-12-17T23:45:47Z",
            "is_active": True,
            "id": 29,
            "email": "a@example.com",
        }
    ]
    enrollments = [
        {
            "username": "honor",
            "course_id": DEMO,
            "user_id": 2,
            "enrollment_id": 1,
            "date_enrolled": "2016-05-23T16:17:07.585Z",
        }
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return jresp(200, accounts if "accounts" in request.url.path else enrollments)

    client, rec = static_client(handler)
    rows = client.accounts_batch(
        updated_min=date(2015, 12, 9), updated_max=datetime(2015, 12, 19, 6, tzinfo=UTC)
    )
    assert rows[0].id == 29 and rows[0].date_joined == datetime(2016, 12, 17, 23, 45, 47, tzinfo=UTC)
    assert "a@example.com" not in repr(rows[0])
    assert dict(rec.requests[0].url.params) == {
        "updated_min": "2015-12-09",
        "updated_max": "2015-12-19T06:00:00Z",
    }
    records = client.enrollments_batch(course_id=DEMO)
    assert records[0].enrollment_id == 1 and records[0].course_id == DEMO
    # '+' must arrive encoded, or Django would read it as a space
    assert b"course_id=course-v1%3AedX%2BDemoX%2BDemo_Course" in rec.requests[1].url.query


def test_analytics_row_of_wrong_shape_is_partner_data_error() -> None:
    rows = [
        {"id": "x", "username": "u", "email": "secret@example.com", "is_active": True, "date_joined": "?"}
    ]
    client, _ = static_client(lambda r: jresp(200, rows))
    with pytest.raises(PartnerDataError) as info:
        client.accounts_batch()
    assert "date_joined" in str(info.value) and "secret@example.com" not in str(info.value)
