"""PennFosterClient's calls over MockTransport: batches, leads, lookups, cancel and from_settings."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from pydantic import ValidationError

from eduhook.settings import Settings
from handlers.errors import ConfigurationError, PartnerDataError, PermanentError
from handlers.partners.pennfoster import (
    CancelRequest,
    LeadRequest,
    MemoryTokenCache,
    PennFosterClient,
)
from tests.handlers.partners.test_pennfoster_client import (
    FakePennFoster,
    learner,
    make_client,
    ok_result,
)

LEAD = {
    "required_info": {
        "organization_id": 143738,
        "location_id": 247319,
        "client_id": 333813,
        "program_id": "00787105",
        "first_name": "Herman",
        "last_name": "Munster",
        "date_of_birth": "01/01/1963",
        "phone_number": "5701234567",
        "email_address": "herman@example.com",
        "contact_email_address": "contact@example.com",
    },
    "optional_info": {"gender": "M", "alternate_id": "lead-1"},
}
RECORD = {
    "organization_id": 141982,
    "location_id": 244648,
    "client_id": 329209,
    "learner_id": "52975707",
    "alternate_id": "alt-1",
    "first_name": "First",
    "last_name": "Last",
    "email_address": "t@test.com",
    "program_id": "TES01105",
    "program_name": "SOFT SKILLS",
    "active_status": "Active",
}


def test_more_than_20_learners_is_refused_before_any_call() -> None:
    fake = FakePennFoster(ok_result)
    with pytest.raises(ValueError, match="at most 20"):
        make_client(fake).create_learners([learner(f"a-{i}") for i in range(21)])
    assert fake.token_requests == [] and fake.api_requests == []


def test_20_learners_go_in_one_flat_array_under_the_learners_prefix() -> None:
    fake = FakePennFoster(ok_result)
    results = make_client(fake).create_learners([learner(f"a-{i}") for i in range(20)])
    (request,) = fake.api_requests
    assert request.url.path == "/api/v4/b2b/learners"
    sent = orjson.loads(request.content)
    assert [item["learner_info"]["alternate_id"] for item in sent] == [f"a-{i}" for i in range(20)]
    assert [r.order_number for r in results] == [str(51775 + i) for i in range(20)]


def test_single_object_answer_and_v1_student_id_are_understood() -> None:
    answer = {"enrollment_status": "X", "order_number": "1", "student_id": 56012279, "errors": []}
    fake = FakePennFoster(lambda r: httpx.Response(200, json=answer))
    (result,) = make_client(fake).create_learners([learner()])
    assert result.student_id == "56012279"


def test_leads_are_sent_flat_under_the_leads_prefix() -> None:
    fake = FakePennFoster(
        lambda r: httpx.Response(200, json=[{"lead_id": 7, "lead_status": "X", "errors": [], "links": []}])
    )
    (result,) = make_client(fake).create_leads([LeadRequest.model_validate(LEAD)])
    (request,) = fake.api_requests
    assert request.url.path == "/api/v3/b2b/leads"
    body = orjson.loads(request.content)
    assert isinstance(body[0], dict) and body[0]["required_info"]["program_id"] == "00787105"
    assert result.lead_id == "7" and result.lead_status == "X"
    with pytest.raises(ValueError, match="at most 20"):
        make_client(fake).create_leads([LeadRequest.model_validate(LEAD)] * 21)


def test_get_learner_by_student_id_and_404_is_none() -> None:
    fake = FakePennFoster(lambda r: httpx.Response(200, json=RECORD))
    record = make_client(fake).get_learner("52975707")
    assert record is not None and record.student_id == "52975707" and record.program_id == "TES01105"
    assert dict(fake.api_requests[0].url.params) == {"student_id": "52975707"}
    assert "First" not in repr(record) and "t@test.com" not in repr(record)
    fake = FakePennFoster(lambda r: httpx.Response(404, json={"message": "Learner not found."}))
    assert make_client(fake).get_learner("1") is None


@pytest.mark.parametrize(
    "results",
    [[RECORD], {"52975707": RECORD}, RECORD],  # a list, v1's dict keyed by id, v2's bare object
)
def test_find_by_alternate_id_accepts_every_documented_results_shape(results: Any) -> None:
    page = {"page_number": 1, "page_count": 1, "record_count": 1, "results": results}
    fake = FakePennFoster(lambda r: httpx.Response(200, json=page))
    (found,) = make_client(fake).find_learners_by_alternate_id("alt-1")
    assert found.student_id == "52975707"
    assert dict(fake.api_requests[0].url.params) == {
        "alternate_id": "alt-1",
        "page_number": "1",
        "rows_per_page": "100",
    }


def test_find_by_alternate_id_reads_every_page_and_404_is_none() -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["page_number"])
        record = RECORD | {"program_id": f"PRG0{number}"}
        return httpx.Response(200, json={"page_number": number, "page_count": 3, "results": [record]})

    fake = FakePennFoster(pages)
    found = make_client(fake).find_learners_by_alternate_id("alt-1")
    assert [r.program_id for r in found] == ["PRG01", "PRG02", "PRG03"]
    assert [r.url.params["page_number"] for r in fake.api_requests] == ["1", "2", "3"]
    fake = FakePennFoster(lambda r: httpx.Response(404, json={"message": "Learner not found."}))
    assert make_client(fake).find_learners_by_alternate_id("alt-1") == []


def test_find_by_alternate_id_stops_at_a_bound_on_pages() -> None:
    endless = {"page_number": 1, "page_count": 99999, "results": [RECORD]}
    fake = FakePennFoster(lambda r: httpx.Response(200, json=endless))
    with pytest.raises(PartnerDataError, match="more than 10 pages"):
        make_client(fake).find_learners_by_alternate_id("alt-1")
    assert len(fake.api_requests) == 10


def test_list_learners_pages_and_404_is_an_empty_page() -> None:
    page = {"page_number": 2, "page_count": 75, "record_count": 746, "results": [RECORD]}
    fake = FakePennFoster(lambda r: httpx.Response(200, json=page))
    result = make_client(fake).list_learners(141982, page_number=2, rows_per_page=10)
    assert (result.page_number, result.page_count, result.record_count) == (2, 75, 746)
    assert dict(fake.api_requests[0].url.params) == {
        "organization_id": "141982",
        "page_number": "2",
        "rows_per_page": "10",
    }
    fake = FakePennFoster(lambda r: httpx.Response(404, json={"message": "no"}))
    assert make_client(fake).list_learners(1).results == []


def test_cancel_posts_the_request_and_reads_the_receipt() -> None:
    receipt = {"resource_id": 100, "organization_id": 123456, "student_id": 5123456, "program_id": "00787105"}
    fake = FakePennFoster(lambda r: httpx.Response(200, json=receipt))
    result = make_client(fake).cancel_learner(
        CancelRequest(organization_id=123456, alternate_id="alt-1", program_id="00787105")
    )
    (request,) = fake.api_requests
    assert request.url.path == "/api/v4/b2b/learners/cancel"
    assert orjson.loads(request.content) == {
        "organization_id": 123456,
        "alternate_id": "alt-1",
        "program_id": "00787105",
    }
    assert result.resource_id == 100 and result.student_id == "5123456"


def test_cancel_by_alternate_id_needs_a_program() -> None:
    with pytest.raises(ValidationError, match="needs program_id"):
        CancelRequest(alternate_id="alt-1")
    with pytest.raises(ValidationError, match="student_id or alternate_id"):
        CancelRequest(program_id="00787105")


def test_organization_lookups_build_the_paths_and_404_is_permanent() -> None:
    org = {
        "organization_id": 141982,
        "name": "Org",
        "locations": [
            {
                "organization_id": 141982,
                "location_id": 244648,
                "clients": [{"organization_id": 141982, "location_id": 244648, "client_id": 329209}],
            }
        ],
    }
    fake = FakePennFoster(lambda r: httpx.Response(200, json=org))
    client = make_client(fake)
    result = client.get_organization(141982, 244648, 329209)
    assert result.locations[0].clients[0].client_id == 329209
    client.get_organization(141982)
    assert [r.url.path for r in fake.api_requests] == [
        "/api/v3/b2b/organizations/141982/locations/244648/clients/329209",
        "/api/v3/b2b/organizations/141982",
    ]
    fake = FakePennFoster(lambda r: httpx.Response(404, json={"message": "Organization not found."}))
    with pytest.raises(PermanentError) as info:
        make_client(fake).get_organization(1)
    assert info.value.status_code == 404


def test_from_settings_names_missing_settings() -> None:
    with pytest.raises(ConfigurationError) as info:
        PennFosterClient.from_settings(Settings(pennfoster_client_id="c"))
    assert "PENNFOSTER_CLIENT_SECRET" in str(info.value) and "PENNFOSTER_API_KEY" in str(info.value)
    assert "PENNFOSTER_CLIENT_ID" not in str(info.value)


def test_from_settings_uses_url_and_prefixes_from_settings() -> None:
    fake = FakePennFoster(ok_result)
    settings = Settings(
        pennfoster_api_url="https://stg.example/",
        pennfoster_client_id="c",
        pennfoster_client_secret="s",
        pennfoster_api_key="k",
        pennfoster_learners_prefix="/api/v9/x/",
    )
    client = PennFosterClient.from_settings(
        settings, transport=httpx.MockTransport(fake), token_cache=MemoryTokenCache()
    )
    client.create_learners([learner()])
    assert str(fake.token_requests[0].url) == "https://stg.example/oauth/token"
    assert str(fake.api_requests[0].url) == "https://stg.example/api/v9/x/learners"
