"""StudyAbroad101 client over httpx.MockTransport: signing, paging, models and error mapping."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from eduhook.settings import Settings
from handlers.errors import (
    ConfigurationError,
    EduhookError,
    PartnerDataError,
    PermanentError,
    TransientError,
)
from handlers.partners.studyabroad101 import Lead, StudyAbroad101Client
from handlers.partners.studyabroad101.signing import format_date, sign, signature_string

USER = "sample-provider-7"
KEY = "test-a101-key"
NOW = datetime(2015, 9, 23, 17, 43, 56, tzinfo=UTC).timestamp()
NOW_HEADER = "Wed, 23 Sep 2015 17:43:56 GMT"

Handler = Callable[[httpx.Request], httpx.Response]


def independent_signature(key: str, message: str) -> str:
    return base64.b64encode(hmac.new(key.encode(), message.encode(), hashlib.sha1).digest()).decode()


def lead_json(lead_id: int, **overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "id": lead_id,
        "email": f"lead{lead_id}@example.org",
        "name": f"Lead Person {lead_id}",
        "university": "Sample University",
        "comment": None,
        "address": "1 Private Road",
        "study_period": "Fall 2016",
        "program_id": 8,
        "program_name": "Sample Program 8",
        "program_link": "http://example.org/programs/sample-program-8",
        "created_at_string": "09/23/2015",
        "catalog_requested": "No",
        "phone_call_requested": "Yes",
        "phone_number": "+1 555 0100",
        "lead_type": "Info",
    }
    record.update(overrides)
    return record


def make_client(handler: Handler, base_url: str = "https://a101.test") -> StudyAbroad101Client:
    http = httpx.Client(base_url=base_url, transport=httpx.MockTransport(handler))
    return StudyAbroad101Client(http, api_user=USER, api_key=SecretStr(KEY), clock=lambda: NOW)


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=orjson.dumps(data), headers=headers)

    return handler


# Signing -------------------------------------------------------------------------------------


def test_signature_of_the_documented_example_string() -> None:
    message = signature_string("GET", "api/leads?limit=4&offset=1", USER, NOW_HEADER)
    assert message == "GETapi/leads?limit=4&offset=1/sample-provider-7Wed, 23 Sep 2015 17:43:56 GMT"
    expected = base64.b64encode(hmac.new(b"test-a101-key", message.encode(), hashlib.sha1).digest())
    assert sign(KEY, message) == expected.decode("ascii")


def test_signature_string_without_query_and_with_leading_slash() -> None:
    assert signature_string("get", "/api/leads", "sample-provider-1", "Wed, 23 Sep 2015 17:43:53 GMT") == (
        "GETapi/leads/sample-provider-1Wed, 23 Sep 2015 17:43:53 GMT"
    )


def test_date_is_rfc2822_gmt() -> None:
    assert format_date(NOW) == NOW_HEADER


def test_request_carries_signed_headers_over_the_exact_query_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    client = make_client(handler)
    client.list_leads(
        program_id=7, limit=4, offset=1, created_before=date(2015, 8, 25), created_after=date(2015, 8, 23)
    )
    (request,) = seen
    wire = request.url.raw_path.decode()
    assert wire == (
        "/api/leads?created_after=2015-08-23&created_before=2015-08-25&limit=4&offset=1&program_id=7"
    )
    assert request.headers["X-A101-Date"] == NOW_HEADER
    assert request.headers["X-A101-User"] == USER
    assert request.headers["X-A101-Auth"] == independent_signature(KEY, f"GET{wire[1:]}/{USER}{NOW_HEADER}")


def test_base_url_path_prefix_is_part_of_the_signed_path() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    make_client(handler, base_url="https://a101.test/v1").list_review_answers(5)
    (request,) = seen
    assert request.url.raw_path == b"/v1/api/reviews/5/answers"
    expected = independent_signature(KEY, f"GETv1/api/reviews/5/answers/{USER}{NOW_HEADER}")
    assert request.headers["X-A101-Auth"] == expected


# Models and endpoints -------------------------------------------------------------------------


def test_lead_model_parses_partner_values_and_hides_personal_fields() -> None:
    (lead,) = make_client(json_reply([lead_json(14)])).list_leads()
    assert lead.created_at == date(2015, 9, 23)
    assert lead.catalog_requested is False
    assert lead.phone_call_requested is True
    assert lead.lead_type == "Info"
    assert lead.email == "lead14@example.org"
    shown = repr(lead)
    for personal in ("lead14@example.org", "Lead Person", "Private Road", "555 0100"):
        assert personal not in shown
    assert "program_id=8" in shown


def test_get_lead_unwraps_the_one_element_array() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=[lead_json(20)])

    lead = make_client(handler).get_lead(20)
    assert isinstance(lead, Lead)
    assert lead.id == 20
    assert seen == ["/api/leads/20"]


@pytest.mark.parametrize("handler", [json_reply([]), json_reply({"error": "NotFound"}, 404)])
def test_get_lead_missing_is_none(handler: Handler) -> None:
    assert make_client(handler).get_lead(99) is None


def test_get_lead_with_two_records_is_partner_data_error() -> None:
    with pytest.raises(PartnerDataError, match="at most one lead"):
        make_client(json_reply([lead_json(1), lead_json(2)])).get_lead(1)


def test_reviews_and_answers() -> None:
    review = {
        "id": 2,
        "university_name": "Sample University 2",
        "title": "Sample Review 2",
        "start_date": None,
        "end_date": None,
        "return_again": None,
        "knowledge_gained": None,
        "program_id": 13,
        "program_name": "Sample Program 13",
        "program_link": "http://example.org/programs/sample-program-13",
        "created_at_string": "09/23/2015",
        "rating": 4.5,
        "admin_rating": None,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/reviews":
            assert request.url.query == b"program_id=13"
            return httpx.Response(200, json=[review])
        assert request.url.path == "/api/reviews/2/answers"
        return httpx.Response(200, json=[{"id": 1, "question": "Again?", "answer": "Yes", "extra": 3}])

    client = make_client(handler)
    (parsed,) = client.list_reviews(program_id=13)
    assert (parsed.id, parsed.rating, parsed.created_at) == (2, 4.5, date(2015, 9, 23))
    (answer,) = client.list_review_answers(2)
    assert answer.answer == "Yes"
    assert answer.model_extra == {"extra": 3}


# Paging ---------------------------------------------------------------------------------------


def paged_handler(total: int, seen: list[tuple[int, int]]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        seen.append((offset, limit))
        ids = range(offset + 1, min(total, offset + limit) + 1)
        return httpx.Response(200, json=[lead_json(i) for i in ids])

    return handler


@pytest.mark.parametrize(
    ("total", "requests"),
    [(45, [(0, 20), (20, 20), (40, 20)]), (40, [(0, 20), (20, 20), (40, 20)]), (0, [(0, 20)])],
)
def test_iter_leads_pages_until_a_short_page(total: int, requests: list[tuple[int, int]]) -> None:
    seen: list[tuple[int, int]] = []
    leads = list(make_client(paged_handler(total, seen)).iter_leads(program_id=8))
    assert [lead.id for lead in leads] == list(range(1, total + 1))
    assert seen == requests


def test_iter_reviews_uses_page_size_and_filters() -> None:
    queries: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        queries.append(request.url.query.decode())
        return httpx.Response(200, json=[])

    list(make_client(handler).iter_reviews(created_after=date(2015, 8, 23), page_size=5))
    assert queries == ["created_after=2015-08-23&limit=5&offset=0"]


def test_paging_that_does_not_advance_is_partner_data_error() -> None:
    with pytest.raises(PartnerDataError, match="same page again"):
        list(make_client(json_reply([lead_json(1), lead_json(2)])).iter_leads(page_size=2))


# Errors ---------------------------------------------------------------------------------------

AUTH_ERRORS = [
    ("AuthHeaderMissing", ConfigurationError),
    ("ClientHeaderMissing", ConfigurationError),
    ("DateHeaderMissing", ConfigurationError),
    ("InvalidClient", ConfigurationError),
    ("InvalidSignature", ConfigurationError),
    ("AuthTimeDifference", TransientError),
]


@pytest.mark.parametrize(("name", "error"), AUTH_ERRORS)
def test_auth_error_names_are_classified(name: str, error: type[EduhookError]) -> None:
    handler = json_reply({"error": name, "message": "rejected"}, 401)
    with pytest.raises(error) as caught:
        make_client(handler).list_leads()
    assert caught.value.partner_code == name
    assert caught.value.status_code == 401
    assert KEY not in str(caught.value)


def test_auth_error_in_plain_text_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="InvalidSignature")

    with pytest.raises(ConfigurationError, match="STUDYABROAD101_API_KEY") as caught:
        make_client(handler).list_leads()
    assert caught.value.partner_code == "InvalidSignature"


def test_auth_error_object_with_success_status_is_not_data() -> None:
    with pytest.raises(ConfigurationError) as caught:
        make_client(json_reply({"error": "InvalidClient"})).list_reviews()
    assert caught.value.partner_code == "InvalidClient"


def test_unnamed_401_is_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="credentials rejected"):
        make_client(json_reply({"status": "unauthorized"}, 401)).list_leads()


def test_429_is_transient_with_retry_after() -> None:
    with pytest.raises(TransientError) as caught:
        make_client(json_reply({}, 429, headers={"Retry-After": "30"})).list_leads()
    assert caught.value.retry_after == 30.0
    assert caught.value.status_code == 429


def test_5xx_is_transient_even_if_it_names_an_auth_error() -> None:
    with pytest.raises(TransientError) as caught:
        make_client(json_reply({"error": "InvalidSignature"}, 502)).list_leads()
    assert caught.value.partner_code is None


def test_other_4xx_is_permanent() -> None:
    with pytest.raises(PermanentError) as caught:
        make_client(json_reply({"error": "InvalidParameter"}, 400)).list_leads()
    assert not isinstance(caught.value, ConfigurationError)
    assert caught.value.status_code == 400


def test_malformed_json_is_partner_data_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'[{"id": 1,', headers={"content-type": "application/json"})

    with pytest.raises(PartnerDataError, match="list leads: response is not JSON"):
        make_client(handler).list_leads()


def test_object_instead_of_array_is_partner_data_error() -> None:
    with pytest.raises(PartnerDataError, match="expected a JSON array, got dict"):
        make_client(json_reply({"leads": []})).list_leads()


def test_invalid_record_names_the_field_not_the_value() -> None:
    handler = json_reply([lead_json(1), lead_json(2, lead_type="Other", created_at_string="2015-09-23x")])
    with pytest.raises(PartnerDataError) as caught:
        make_client(handler).list_leads()
    message = str(caught.value)
    assert "1.lead_type" in message
    assert "1.created_at_string" in message
    assert "Other" not in message
    assert "lead2@example.org" not in message


def test_connection_failure_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(TransientError, match="connection failed"):
        make_client(handler).get_lead(1)


# Settings -------------------------------------------------------------------------------------


def test_from_settings_builds_a_signed_client() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=[])

    settings = Settings(
        studyabroad101_api_url="https://a101.test/",
        studyabroad101_api_user=USER,
        studyabroad101_api_key=SecretStr(KEY),
    )
    with StudyAbroad101Client.from_settings(
        settings, transport=httpx.MockTransport(handler), clock=lambda: NOW
    ) as client:
        assert client.list_leads() == []
    assert str(seen[0].url) == "https://a101.test/api/leads"
    assert seen[0].headers["X-A101-Auth"] == independent_signature(KEY, f"GETapi/leads/{USER}{NOW_HEADER}")


@pytest.mark.parametrize(
    ("user", "key", "missing"),
    [(None, "k", "STUDYABROAD101_API_USER"), (USER, None, "STUDYABROAD101_API_KEY"), (USER, "", "_API_KEY")],
)
def test_from_settings_requires_credentials(user: str | None, key: str | None, missing: str) -> None:
    settings = Settings(
        studyabroad101_api_user=user, studyabroad101_api_key=SecretStr(key) if key is not None else None
    )
    with pytest.raises(ConfigurationError, match=missing):
        StudyAbroad101Client.from_settings(settings)
