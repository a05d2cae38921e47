"""EduframeClient against httpx.MockTransport: auth, paging, error mapping, parsing."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest
from pydantic import SecretStr

from eduhook.settings import Settings
from handlers.errors import ConfigurationError, PartnerDataError, PermanentError, TransientError
from handlers.partners.eduframe import EduframeClient, LeadCreate, LeadProduct

BASE = "https://api.eduframe.test/api/v1"
TOKEN = "secret-eduframe-token"
NOW = 1_700_000_000.0

Handler = Callable[[httpx.Request], httpx.Response]

ORDER = {
    "id": 123,
    "status": "active",
    "catalog_variant_id": 301,
    "order_items": [
        {"id": 1, "order_id": 123, "student_id": 11},
        {"id": 2, "order_id": 123, "student_id": 12},
    ],
    "number": 123,
    "total_cost_incl": None,
}
USER = {
    "id": 11,
    "first_name": "Alice",
    "middle_name": None,
    "last_name": "Jansen",
    "email": "alice@example.com",
    "address": {"address": "12 Elm Street", "postal_code": "18508", "city": "Scranton", "country": "US"},
    "custom": {"phone": "+1 570 555 0101", "birth_date": "1990-04-01", "gender": " "},
    "notes_user": "allergic to peanuts",
}


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=orjson.dumps(data), headers={"content-type": "application/json", **(headers or {})}
    )


def eduframe_error(status: int, **extra: Any) -> httpx.Response:
    body = {"errors": {}, "code": status, "message": "Something went wrong"}
    body.update(extra)
    return json_reply(body, status)


def make(handler: Handler) -> EduframeClient:
    settings = Settings(eduframe_api_url=BASE, eduframe_api_token=TOKEN)
    return EduframeClient.from_settings(settings, transport=httpx.MockTransport(handler), clock=lambda: NOW)


def test_every_call_sends_the_bearer_token() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_reply(ORDER)

    order = make(handler).get_order(123)

    assert seen[0].url == f"{BASE}/orders/123"
    assert seen[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen[0].headers["Accept"] == "application/json"
    assert order.status == "active"
    assert order.student_ids == [11, 12]


def test_from_settings_names_the_missing_token() -> None:
    settings = Settings(eduframe_api_url=BASE, eduframe_api_token=None)
    with pytest.raises(ConfigurationError, match="EDUFRAME_API_TOKEN"):
        EduframeClient.from_settings(settings)


def test_user_keeps_personal_and_unknown_fields_out_of_repr() -> None:
    user = make(lambda request: json_reply(USER)).get_user(11)

    assert user.first_name == "Alice"
    assert user.address is not None and user.address.city == "Scranton"
    assert user.custom_value("phone") == "+1 570 555 0101"
    assert user.custom_value("gender") is None  # blank counts as absent
    assert user.custom_value("missing") is None
    text = repr(user)
    for personal in ("Alice", "Jansen", "alice@example.com", "Scranton", "555", "peanuts"):
        assert personal not in text
    assert "id=11" in text


def test_catalog_variant_exposes_product_id_as_catalog_product_id() -> None:
    variant = {"id": 301, "product_id": 401, "variantable_type": "Program::Edition", "variantable_id": 9}
    parsed = make(lambda request: json_reply(variant)).get_catalog_variant(301)
    assert parsed.variantable_type == "Program::Edition"
    assert parsed.catalog_product_id == 401


def _enrollment(n: int) -> dict[str, Any]:
    return {"id": n, "student_id": 11, "planned_course_id": 201, "order_id": None, "status": "confirmed"}


def test_lists_follow_link_next_across_three_pages() -> None:
    seen: list[httpx.URL] = []
    pages = {1: [_enrollment(1), _enrollment(2)], 2: [_enrollment(3), _enrollment(4)], 3: [_enrollment(5)]}

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        page = int(request.url.params.get("page", "1"))
        links = []
        if page < 3:
            links.append(f'<{BASE}/enrollments?student_id=11&page={page + 1}&per_page=2>; rel="next"')
        links.append(f'<{BASE}/enrollments?student_id=11&page=3&per_page=2>; rel="last"')
        return json_reply(pages[page], headers={"Link": ", ".join(links)})

    enrollments = make(handler).list_enrollments(student_id=11, status=["confirmed", "active"])

    assert [e.id for e in enrollments] == [1, 2, 3, 4, 5]
    assert len(seen) == 3
    first = seen[0].params
    assert first["student_id"] == "11"
    assert first["per_page"] == "100"
    assert first.get_list("status") == ["confirmed", "active"]
    assert seen[2].params["page"] == "3"


def test_per_page_is_capped_at_100() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return json_reply([])

    assert make(handler).list_enrollments(planned_course_id=201, per_page=500) == []
    assert seen[0].params["per_page"] == "100"


def test_a_next_link_to_another_host_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_reply(
            [_enrollment(1)], headers={"Link": '<https://evil.test/enrollments?page=2>; rel="next"'}
        )

    with pytest.raises(PartnerDataError, match="another host"):
        make(handler).list_enrollments(student_id=11)


def test_a_next_link_that_repeats_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return json_reply([_enrollment(1)], headers={"Link": f'<{BASE}/enrollments?page=2>; rel="next"'})

    with pytest.raises(PartnerDataError, match="repeats"):
        make(handler).list_enrollments(student_id=11)


@pytest.mark.parametrize(
    ("status", "error", "fragment"),
    [
        (401, ConfigurationError, "EDUFRAME_API_TOKEN"),
        (403, ConfigurationError, "permission"),
        (404, PermanentError, "order 123 not found"),
        (400, PermanentError, "HTTP 400"),
        (409, PermanentError, "HTTP 409"),
        (422, PermanentError, "HTTP 422"),
        (500, TransientError, "HTTP 500"),
    ],
)
def test_statuses_map_to_the_error_tree(status: int, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=fragment) as caught:
        make(lambda request: eduframe_error(status)).get_order(123)
    assert getattr(caught.value, "status_code", None) == status
    assert getattr(caught.value, "partner", None) == "eduframe"
    assert getattr(caught.value, "partner_code", None) == str(status)
    if status != 500:
        assert not isinstance(caught.value, TransientError)


def test_validation_errors_name_fields_but_not_values() -> None:
    errors = {"email": ["alice@example.com is invalid"], "phone": ["+1 555 is invalid"]}
    reply = eduframe_error(422, errors=errors, message="Email alice@example.com is invalid")
    with pytest.raises(PermanentError) as caught:
        make(lambda request: reply).create_lead(LeadCreate(first_name="Alice", email="alice@example.com"))
    message = str(caught.value)
    assert "invalid fields: email, phone" in message
    assert "alice@example.com" not in message
    assert "+1 555" not in message


def test_429_is_transient_with_retry_after_seconds() -> None:
    reply = httpx.Response(
        429, json={"errors": {}, "code": 429, "message": "Too many"}, headers={"Retry-After": "30"}
    )
    with pytest.raises(TransientError) as caught:
        make(lambda request: reply).get_user(11)
    assert caught.value.retry_after == 30.0
    assert caught.value.status_code == 429


def test_503_retry_after_as_http_date_uses_the_injected_clock() -> None:
    when = email.utils.formatdate(NOW + 90, usegmt=True)
    reply = httpx.Response(503, text="<html>maintenance</html>", headers={"Retry-After": when})
    with pytest.raises(TransientError) as caught:
        make(lambda request: reply).get_course(101)
    assert caught.value.retry_after == pytest.approx(90.0)


def test_malformed_json_is_partner_data_error() -> None:
    reply = httpx.Response(200, text="<html>oops</html>", headers={"content-type": "text/html"})
    with pytest.raises(PartnerDataError, match=r"get order 123: response is not JSON \(HTTP 200, text/html"):
        make(lambda request: reply).get_order(123)


def test_a_record_of_the_wrong_shape_names_the_field_not_the_value() -> None:
    bad = {**USER, "id": "not-a-number-alice@example.com"}
    with pytest.raises(PartnerDataError, match="id int_parsing") as caught:
        make(lambda request: json_reply(bad)).get_user(11)
    assert "alice@example.com" not in str(caught.value)


def test_a_list_that_is_not_an_array_is_partner_data_error() -> None:
    with pytest.raises(PartnerDataError, match="expected a JSON array"):
        make(lambda request: json_reply({"data": []})).list_enrollments(student_id=1)


def test_connection_failure_is_transient() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(TransientError, match="connection failed"):
        make(handler).get_planned_course(201)


def test_create_lead_posts_only_given_fields_and_parses_the_201() -> None:
    seen: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(orjson.loads(request.content))
        return json_reply({"id": 9001, "status": "prospect", "first_name": "Alice", "lead_products": []}, 201)

    lead = make(handler).create_lead(
        LeadCreate(
            first_name="Alice",
            last_name="Jansen",
            email="alice@example.com",
            lead_products=[LeadProduct(catalog_product_id=401, catalog_variant_id=301)],
        )
    )

    assert seen == [
        {
            "first_name": "Alice",
            "last_name": "Jansen",
            "email": "alice@example.com",
            "status": "prospect",
            "lead_products": [{"catalog_product_id": 401, "catalog_variant_id": 301}],
        }
    ]
    assert lead.id == 9001
    assert "Alice" not in repr(lead)


def test_failed_notifications_pass_the_window_as_iso_timestamps() -> None:
    seen: list[httpx.URL] = []
    failed = {
        "id": "n1",
        "event_id": "e1",
        "webhook_id": "w1",
        "status": "failed",
        "data": {"event": "order.approved"},
    }

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return json_reply([failed])

    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = datetime(2025, 1, 2, tzinfo=UTC)
    items = make(handler).list_failed_webhook_notifications("w1", start=start, end=end)

    assert seen[0].path == "/api/v1/webhooks/w1/notifications/failed"
    assert seen[0].params["start"] == "2025-01-01T00:00:00+00:00"
    assert seen[0].params["end"] == "2025-01-02T00:00:00+00:00"
    assert [(n.id, n.webhook_id, n.status) for n in items] == [("n1", "w1", "failed")]


def test_secret_token_is_not_in_the_client_repr_or_errors() -> None:
    client = EduframeClient(
        httpx.Client(base_url=BASE, transport=httpx.MockTransport(lambda r: eduframe_error(401))),
        token=SecretStr(TOKEN),
    )
    with pytest.raises(ConfigurationError) as caught:
        client.get_order(1)
    assert TOKEN not in str(caught.value)
    assert TOKEN not in repr(client)


@pytest.mark.parametrize("start_date", ["", "06-01-2025", "2025-01-06T09:30:00.000Z", None])
def test_planned_course_dates_are_plain_strings_eduhook_does_not_read(start_date: str | None) -> None:
    """The spec types them as strings "only needed for fixed planned courses"; any of them parses."""
    planned = {"id": 201, "course_id": 101, "start_date": start_date, "end_date": ""}
    parsed = make(lambda request: json_reply(planned)).get_planned_course(201)
    assert (parsed.id, parsed.course_id) == (201, 101)


def test_find_reads_a_deleted_record_as_none_but_other_errors_still_raise() -> None:
    answers = {
        "/api/v1/orders/123": json_reply(ORDER),
        "/api/v1/orders/124": eduframe_error(404),
        "/api/v1/orders/125": eduframe_error(403),
        "/api/v1/enrollments/70007": eduframe_error(404),
    }
    client = make(lambda request: answers[request.url.path])
    order = client.find_order(123)
    assert order is not None and order.id == 123
    assert client.find_order(124) is None and client.find_enrollment(70007) is None
    with pytest.raises(ConfigurationError):
        client.find_order(125)


def test_live_enrollments_leave_canceled_ones_out() -> None:
    seen: list[httpx.URL] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return json_reply(
            [{"id": 7001, "student_id": 11, "planned_course_id": 201, "order_id": None, "status": "active"}]
        )

    [live] = make(handler).list_enrollments(student_id=11, planned_course_id=201, with_canceled=False)
    assert live.id == 7001
    assert dict(seen[0].params) == {"student_id": "11", "planned_course_id": "201", "with_canceled": "false",
                                    "per_page": "100"}  # fmt: skip


def test_an_order_number_is_any_json_number() -> None:
    order = make(lambda request: json_reply({**ORDER, "number": 1024.5})).get_order(123)
    assert order.student_ids == [11, 12]


def test_send_attempt_times_are_kept_as_eduframe_writes_them() -> None:
    attempt = {"status_code": 202, "response": "ok", "created_at": "2024-09-02 09:00:00 UTC"}
    notification = {"id": "n1", "event_id": "e1", "status": "succeeded", "send_attempts": [attempt]}
    [parsed] = make(lambda request: json_reply([notification])).list_webhook_notifications("w1")
    assert parsed.send_attempts[0].created_at == "2024-09-02 09:00:00 UTC"


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"order_items": None}, "order_items null"),
        ({"catalog_variant_id": None}, "catalog_variant_id null"),
        ({"status": "archived"}, "status literal_error"),
    ],
)
def test_an_acted_on_field_missing_or_null_names_the_field_and_the_order(
    change: dict[str, Any], problem: str
) -> None:
    with pytest.raises(PartnerDataError) as caught:
        make(lambda request: json_reply({**ORDER, **change})).get_order(123)
    assert caught.value.message == f"get order 123: unexpected response shape ({problem})"


def test_a_missing_field_in_a_list_names_the_item_and_its_id() -> None:
    broken = {key: value for key, value in _enrollment(7).items() if key != "planned_course_id"}
    with pytest.raises(PartnerDataError) as caught:
        make(lambda request: json_reply([_enrollment(6), broken])).list_enrollments(student_id=11)
    assert caught.value.message == (
        "list /enrollments: item 2 (id 7): unexpected response shape (planned_course_id missing)"
    )
