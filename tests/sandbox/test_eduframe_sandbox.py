"""The Eduframe sandbox enforces Eduframe's contract, and EduframeClient works against it over loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from starlette.types import ASGIApp

from eduhook.settings import Settings
from handlers.errors import ConfigurationError, PermanentError
from handlers.partners.eduframe import AddressInput, EduframeClient, LeadCreate, LeadProduct
from sandbox.eduframe import DEFAULT_API_TOKEN, EduframeSeed, create_app
from sandbox.server import RunningServer

Serve = Callable[[ASGIApp], RunningServer]
AUTH = {"Authorization": f"Bearer {DEFAULT_API_TOKEN}"}

# Required keys from the OpenAPI schemas (eduframe-openapi.json) the sandbox must always send.
ORDER_KEYS = {
    "id",
    "status",
    "catalog_variant_id",
    "account_id",
    "number",
    "number_of_students",
    "origin",
    "cost_scheme",
    "creator_id",
    "label_ids",
    "created_at",
    "updated_at",
    "order_items",
}
USER_KEYS = {
    "id",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "locale",
    "roles",
    "slug",
    "label_ids",
    "student_number",
    "wants_newsletter",
    "teacher_enrollments_count",
    "created_at",
    "updated_at",
}
VARIANT_KEYS = {
    "id",
    "product_id",
    "name",
    "cost_scheme",
    "cost",
    "currency",
    "variantable_type",
    "variantable_id",
    "availability",
    "available_places",
    "is_published",
    "show_on_website",
    "created_at",
    "updated_at",
}


@pytest.fixture
def demo_url(serve: Serve) -> str:
    return serve(create_app(EduframeSeed.demo().to_dict())).url


@pytest.fixture
def api(demo_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo_url, headers=AUTH) as client:
        yield client


def client_for(url: str, token: str = DEFAULT_API_TOKEN) -> EduframeClient:
    return EduframeClient.from_settings(Settings(eduframe_api_url=url, eduframe_api_token=token))


def assert_error_body(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    body: dict[str, Any] = response.json()
    assert set(body) == {"errors", "code", "message"}
    assert body["code"] == status
    assert isinstance(body["errors"], dict) and isinstance(body["message"], str)
    return body


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Token {DEFAULT_API_TOKEN}"])
def test_calls_without_the_token_get_a_401_error_body(demo_url: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.get(f"{demo_url}/orders/5001", headers=headers)
    assert_error_body(response, 401)


def test_unknown_records_and_paths_get_a_404_error_body(api: httpx.Client) -> None:
    body = assert_error_body(api.get("/orders/999"), 404)
    assert "999" in body["message"]
    assert_error_body(api.get("/users/not-a-number"), 404)
    assert_error_body(api.get("/no/such/thing"), 404)


def test_served_records_carry_the_schema_required_fields(api: httpx.Client) -> None:
    order = api.get("/orders/5001").json()
    assert set(order) >= ORDER_KEYS
    assert [item["student_id"] for item in order["order_items"]] == [1001, 1002]
    assert all({"id", "order_id", "created_at", "updated_at"} <= set(i) for i in order["order_items"])
    assert set(api.get("/users/1001").json()) >= USER_KEYS
    assert set(api.get("/catalog/variants/301").json()) >= VARIANT_KEYS


def test_lists_page_with_link_next_and_last_keeping_filters(serve: Serve) -> None:
    seed = EduframeSeed()
    _, planned, _ = seed.add_offering(code="C1")
    for _ in range(30):
        seed.add_enrollment(student_id=1001, planned_course_id=planned)
    seed.add_enrollment(student_id=1002, planned_course_id=planned)
    url = serve(create_app(seed.to_dict())).url

    first = httpx.get(f"{url}/enrollments", params={"student_id": 1001}, headers=AUTH)
    assert len(first.json()) == 25  # the default page size
    assert first.links["next"]["url"] == f"{url}/enrollments?student_id=1001&page=2&per_page=25"
    assert first.links["last"]["url"] == f"{url}/enrollments?student_id=1001&page=2&per_page=25"
    second = httpx.get(first.links["next"]["url"], headers=AUTH)
    assert len(second.json()) == 5
    assert "next" not in second.links


def test_per_page_above_100_is_capped_and_below_1_rejected(serve: Serve) -> None:
    seed = EduframeSeed()
    _, planned, _ = seed.add_offering(code="C1")
    for _ in range(105):
        seed.add_enrollment(student_id=1001, planned_course_id=planned)
    url = serve(create_app(seed.to_dict())).url

    capped = httpx.get(f"{url}/enrollments", params={"per_page": 500}, headers=AUTH)
    assert len(capped.json()) == 100
    assert "per_page=100" in capped.links["next"]["url"]
    body = assert_error_body(httpx.get(f"{url}/enrollments", params={"per_page": 0}, headers=AUTH), 400)
    assert "per_page" in body["errors"]


def test_client_reads_the_whole_chain_behind_an_order(demo_url: str) -> None:
    client = client_for(demo_url)
    order = client.get_order(5001)
    variant = client.get_catalog_variant(order.catalog_variant_id)
    planned = client.get_planned_course(variant.variantable_id)
    course = client.get_course(planned.course_id)
    user = client.get_user(order.student_ids[0])

    assert order.status == "active"
    assert variant.variantable_type == "PlannedCourse"
    assert course.code == "PF-MEDASST"
    assert user.custom_value("phone") == "+1 570 555 0101"
    assert user.custom_value("birth_date") == "1990-04-01"
    assert user.address is not None and user.address.state_province == "PA"
    enrollments = client.list_enrollments(student_id=1001, planned_course_id=planned.id)
    assert [(e.order_id, e.status) for e in enrollments] == [(5001, "confirmed")]


def test_client_follows_three_pages_from_the_sandbox(serve: Serve) -> None:
    seed = EduframeSeed()
    _, planned, _ = seed.add_offering(code="C1")
    for _ in range(230):
        seed.add_enrollment(student_id=1001, planned_course_id=planned)
    server = serve(create_app(seed.to_dict()))

    enrollments = client_for(server.url).list_enrollments(student_id=1001)

    assert len({e.id for e in enrollments}) == 230
    pages = httpx.get(f"{server.url}/_sandbox/requests", params={"path": "/enrollments"}).json()
    queries = [parse_qs(r["query"]) for r in pages]
    assert [(q.get("page"), q["per_page"], q["student_id"]) for q in queries] == [
        (None, ["100"], ["1001"]),
        (["2"], ["100"], ["1001"]),
        (["3"], ["100"], ["1001"]),
    ]


def test_client_maps_sandbox_errors(demo_url: str) -> None:
    with pytest.raises(PermanentError, match="order 999 not found"):
        client_for(demo_url).get_order(999)
    with pytest.raises(ConfigurationError, match="EDUFRAME_API_TOKEN"):
        client_for(demo_url, token="wrong").get_order(5001)


def test_lead_validation_answers_422_naming_every_problem(api: httpx.Client) -> None:
    body = {
        "status": "hot",
        "phone": "call me",
        "address_attributes": {"address": "1 Main St", "city": "Scranton", "country": "XX"},
        "lead_products": [{"catalog_variant_id": 301}, {"catalog_product_id": 999}],
    }
    problems = assert_error_body(api.post("/leads", json=body), 422)["errors"]
    assert set(problems) == {
        "status",
        "phone",
        "address_attributes.postal_code",
        "address_attributes.country",
        "lead_products[0].catalog_product_id",
        "lead_products[1].catalog_product_id",
    }
    assert_error_body(api.post("/leads", content=b"not json"), 400)
    assert api.get("/leads").json() == []


def test_client_creates_a_lead_that_the_sandbox_stores(demo_url: str) -> None:
    lead = client_for(demo_url).create_lead(
        LeadCreate(
            first_name="Dana",
            last_name="Lee",
            email="dana@example.com",
            phone="+1 570 555 0199",
            comment="from StudyAbroad101",
            address_attributes=AddressInput(
                address="1 Main St", postal_code="18508", city="Scranton", country="US"
            ),
            lead_products=[LeadProduct(catalog_product_id=401, catalog_variant_id=301)],
        )
    )
    assert lead.id == 9001
    stored = httpx.get(f"{demo_url}/leads/9001", headers=AUTH).json()
    assert stored["email"] == "dana@example.com"
    assert stored["address"]["city"] == "Scranton"
    assert stored["lead_products"] == [{"catalog_product_id": 401, "catalog_variant_id": 301}]


def test_order_transitions_follow_the_status_rules(api: httpx.Client) -> None:
    approved = api.put("/orders/5002/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "active"
    assert_error_body(api.put("/orders/5002/approve"), 422)
    assert api.put("/orders/5002/cancel").json()["status"] == "canceled"


def test_runtime_seed_state_and_reset(demo_url: str, api: httpx.Client) -> None:
    extra = EduframeSeed()
    extra.add_user(first_name="Eve", last_name="Stone", id=4242)
    added = httpx.post(f"{demo_url}/_sandbox/seed", json={"users": extra.to_dict()["users"]})
    assert added.json()["added"]["users"] == 1
    assert api.get("/users/4242").json()["first_name"] == "Eve"
    state = httpx.get(f"{demo_url}/_sandbox/state").json()
    assert 4242 in [u["id"] for u in state["users"]]
    assert state["educator"] == "sandbox-academy"

    assert httpx.post(f"{demo_url}/_sandbox/seed", json={"bogus": []}).status_code == 400
    httpx.post(f"{demo_url}/_sandbox/reset")
    assert_error_body(api.get("/users/4242"), 404)


def test_demo_seed_is_complete_and_deterministic() -> None:
    seed = EduframeSeed.demo().to_dict()
    assert seed == EduframeSeed.demo().to_dict()
    assert [c["code"] for c in seed["courses"]] == ["PF-MEDASST", "OX-DATA101"]
    assert [(o["id"], o["status"]) for o in seed["orders"]] == [(5001, "active"), (5002, "requested")]
    assert [(e["student_id"], e["order_id"]) for e in seed["enrollments"]] == [(1001, 5001), (1002, 5001)]
    assert seed["catalog_product_ids"] == [401, 402]
    for user in seed["users"]:
        assert {"address", "postal_code", "city", "country"} <= set(user["address"])
        assert {"phone", "birth_date"} <= set(user["custom"])


def test_seed_builder_validates_variants_and_names_custom_fields() -> None:
    seed = EduframeSeed(custom_fields={"phone": "mobile_number"})
    with pytest.raises(ValueError, match="exactly one"):
        seed.add_variant()
    user = seed.add_user(first_name="Ann", last_name="Bo", phone="+31 6 1234 5678", gender="F")
    edition_variant = seed.add_variant(program_edition_id=77)
    order = seed.add_order(students=[user], variant_id=edition_variant)
    data = seed.to_dict()
    assert data["users"][0]["custom"] == {"mobile_number": "+31 6 1234 5678", "gender": "F"}
    assert data["catalog_variants"][0]["variantable_type"] == "Program::Edition"
    assert data["orders"][0]["id"] == order
    assert data["enrollments"] == []  # an edition is not a planned course: no course enrollments
