"""The Penn Foster sandbox over loopback HTTP: auth and token expiry, batches, per-item codes, state."""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from sandbox.pennfoster import DEFAULT_API_KEY, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, create_app
from sandbox.server import RunningServer, serve_in_thread

Serve = Callable[[ASGIApp], RunningServer]
AUTH = base64.b64encode(f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}".encode()).decode()
FORM = {"grant_type": "client_credentials", "api_key": DEFAULT_API_KEY}

LEARNER: dict[str, Any] = {
    "enrollment_type": "B2BENRICH",
    "transaction_guid": "13e1fee8-c3c3-40dd-bfa8-9e672d87658f",
    "organization_info": {
        "organization_id": 141982,
        "location_id": 244648,
        "client_id": 329209,
        "contact_email_address": "admin@example.com",
        "ship_to_location": False,
        "completion_document_shipping_preference": "EML",
    },
    "learner_info": {
        "first_name": "Joe",
        "last_name": "Smith",
        "gender": "M",
        "date_of_birth": "01011990",
        "email_address": "joe@example.com",
        "phone_number": "123456789",
        "phone_type": "H",
        "alternate_id": "alt-1",
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
LEAD: dict[str, Any] = {
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
    "optional_info": {
        "gender": "M",
        "alternate_id": "lead-1",
        "address": {
            "address_1": "1313 Mockingbird Lane",
            "city": "Mockingbird Heights",
            "state": "CA",
            "postal_code": "90210",
            "country": "USA",
        },
    },
}


def learner(alternate_id: str = "alt-1", **changes: Any) -> dict[str, Any]:
    """A valid learner; ``changes`` maps dotted paths to new values (``None`` deletes the field)."""
    body = copy.deepcopy(LEARNER)
    body["learner_info"]["alternate_id"] = alternate_id
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = body
        for key in parents:
            node = node[key]
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return body


class PF:
    """A loopback sandbox plus an httpx client holding a token."""

    def __init__(self, server: RunningServer) -> None:
        self.url = server.url
        self.http = httpx.Client(base_url=server.url)
        self.token = self.get_token()

    def get_token(self) -> str:
        response = self.http.post("/oauth/token", headers={"Authorization": AUTH}, data=FORM)
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def call(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def learners(self, items: Any) -> httpx.Response:
        return self.call("POST", "/api/v4/b2b/learners", json=items)

    def control(self, path: str, body: Any = None) -> Any:
        return self.http.post(f"/_sandbox{path}", json=body).json()

    def state(self) -> Any:
        return self.http.get("/_sandbox/state").json()


@pytest.fixture(scope="module")
def default_server() -> Iterator[RunningServer]:
    """One default sandbox for the module (uvicorn takes ~0.2 s to stop); each test resets it."""
    server = serve_in_thread(create_app())
    yield server
    server.stop()


@pytest.fixture
def pf(default_server: RunningServer) -> Iterator[PF]:
    httpx.post(f"{default_server.url}/_sandbox/reset")
    client = PF(default_server)
    yield client
    client.http.close()


def codes(response: httpx.Response, index: int = 0) -> list[str]:
    return [e["error_code"] for e in response.json()[index]["errors"]]


# Auth -----------------------------------------------------------------------------------------


def test_token_answers_as_documented_and_accepts_basic_prefix(pf: PF) -> None:
    response = pf.http.post("/oauth/token", headers={"Authorization": f"Basic {AUTH}"}, data=FORM)
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "bearer" and body["expires_in"] == "3600"
    assert pf.state()["tokens_issued"] == 2


@pytest.mark.parametrize(
    ("auth", "form", "status"),
    [
        (base64.b64encode(b"eduhook-sandbox:wrong").decode(), FORM, 401),
        ("not base64!", FORM, 401),
        (None, FORM, 401),
        (AUTH, {**FORM, "api_key": "wrong"}, 401),
        (AUTH, {"api_key": DEFAULT_API_KEY}, 400),
    ],
)
def test_wrong_credentials_are_refused(pf: PF, auth: str | None, form: dict[str, str], status: int) -> None:
    headers = {"Authorization": auth} if auth else {}
    response = pf.http.post("/oauth/token", headers=headers, data=form)
    assert response.status_code == status
    assert "access_token" not in response.json()


def test_api_calls_need_a_live_bearer_token(serve: Serve) -> None:
    pf = PF(serve(create_app({"token_ttl": 5})))
    assert pf.http.post("/api/v4/b2b/learners", json=[learner()]).status_code == 401
    bogus = pf.http.get("/api/v3/b2b/organizations/141982", headers={"Authorization": "Bearer nope"})
    assert bogus.status_code == 401 and "denied" in bogus.json()["message"]
    assert pf.call("GET", "/api/v3/b2b/organizations/141982").status_code == 200
    pf.control("/clock", {"advance": 4})
    assert pf.call("GET", "/api/v3/b2b/organizations/141982").status_code == 200
    pf.control("/clock", {"advance": 1.5})
    assert pf.call("GET", "/api/v3/b2b/organizations/141982").status_code == 401
    pf.token = pf.get_token()
    assert pf.call("GET", "/api/v3/b2b/organizations/141982").status_code == 200


# Batches --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(b"{not json", "not JSON"), (b'{"a": 1}', "JSON array"), (b"[]", "no learner"), (b"", "empty")],
)
def test_unusable_learner_bodies_are_400(pf: PF, content: bytes, fragment: str) -> None:
    response = pf.call(
        "POST", "/api/v4/b2b/learners", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400 and fragment in response.json()["message"]


def test_21_items_are_refused_whole(pf: PF) -> None:
    response = pf.learners([learner(f"a-{i}") for i in range(21)])
    assert response.status_code == 400
    assert "maximum length of the array is 20" in response.json()["message"]
    assert pf.state()["learners"] == []
    assert pf.learners([learner(f"a-{i}") for i in range(20)]).status_code == 200
    assert len(pf.state()["learners"]) == 20


def test_a_valid_learner_is_enrolled_and_recorded(pf: PF) -> None:
    response = pf.learners([learner()])
    (result,) = response.json()
    assert result["enrollment_status"] == "X" and result["errors"] == []
    assert result["order_number"] and result["learner_id"] and result["reference_id"]
    (record,) = pf.state()["learners"]
    assert record["learner_id"] == result["learner_id"] and record["alternate_id"] == "alt-1"


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"learner_info__first_name": None}, "E607400001"),
        ({"learner_info__alternate_id": ""}, "E608600002"),
        ({"learner_info__email_address": "joe-at-example"}, "E602600001"),
        ({"learner_info__phone_type": "X"}, "E604200001"),
        ({"learner_info__phone_number": None}, "E604300001"),
        ({"learner_info__address__address_1": None}, "E607700001"),
        ({"learner_info__address__city": None}, "E607800001"),
        ({"learner_info__address__postal_code": None}, "E604000001"),
        ({"learner_info__address__country": None}, "E601400002"),
        ({"learner_info__address__country": "XYZ"}, "E601400001"),
        ({"learner_info__address__state": "ZZ"}, "E607900001"),
        ({"organization_info__organization_id": 999999}, "E607100001"),
        ({"organization_info__location_id": 247319}, "E607200001"),
        ({"organization_info__client_id": 333813}, "E607300001"),
        ({"organization_info__contact_email_address": None}, "E604100001"),
        ({"program_info__program_id": None}, "E614400001"),
        ({"learner_info__first_name": "J" * 41}, "E690000002"),
        ({"notes": "n" * 75}, "E690000002"),
        ({"learner_info__gender": "Q"}, "E690000003"),
        ({"organization_info__completion_document_shipping_preference": None}, "E690000001"),
        ({"enrollment_type": None}, "E690000001"),
    ],
)
def test_invalid_learner_fields_get_the_documented_codes(
    pf: PF, changes: dict[str, Any], expected: str
) -> None:
    response = pf.learners([learner("ok-1"), learner("bad-1", **changes)])
    assert response.status_code == 200
    assert response.json()[0]["enrollment_status"] == "X"
    bad = response.json()[1]
    assert bad["enrollment_status"] == "E" and expected in codes(response, 1)
    assert [r["alternate_id"] for r in pf.state()["learners"]] == ["ok-1"]


def test_duplicate_alternate_id_is_e608600001_even_within_a_batch(pf: PF) -> None:
    first = pf.learners([learner("dup"), learner("dup")])
    assert first.json()[0]["enrollment_status"] == "X"
    assert codes(first, 1) == ["E608600001"]
    assert codes(pf.learners([learner("dup")])) == ["E608600001"]


def test_seeded_programs_are_enforced(serve: Serve) -> None:
    pf = PF(serve(create_app({"programs": {"00787105": "Medical Billing"}})))
    response = pf.learners([learner("a"), learner("b", program_info__program_id="99999999")])
    assert response.json()[0]["enrollment_status"] == "X" and codes(response, 1) == ["E614400001"]
    assert pf.state()["learners"][0]["enrollments"][0]["program_name"] == "Medical Billing"


def test_re_enrolling_a_student_in_the_same_program_is_e614400005(pf: PF) -> None:
    student = pf.learners([learner("first")]).json()[0]["learner_id"]
    again = pf.learners([learner("second", addressbook_info={"learner_id": int(student)})])
    assert codes(again) == ["E614400005"]


def test_a_second_program_with_learner_id_is_the_same_learner_in_two_programs(pf: PF) -> None:
    (first,) = pf.learners([learner("two")]).json()
    assert codes(pf.learners([learner("two", program_info__program_id="MBC01105")])) == ["E608600001"]
    book = {"learner_id": int(first["learner_id"])}
    (second,) = pf.learners(
        [learner("two", program_info__program_id="MBC01105", addressbook_info=book)]
    ).json()
    assert second["enrollment_status"] == "X" and second["learner_id"] == first["learner_id"]
    assert second["order_number"] != first["order_number"]
    (person,) = pf.state()["learners"]
    assert [e["program_id"] for e in person["enrollments"]] == ["00787105", "MBC01105"]
    assert [e["learner_id_sent"] for e in person["enrollments"]] == [None, int(first["learner_id"])]
    # The lookup answers one record per program, both under the one student id.
    page = pf.call("GET", "/api/v4/b2b/learners", params={"alternate_id": "two"}).json()
    assert [(r["learner_id"], r["program_id"]) for r in page["results"]] == [
        (first["learner_id"], "00787105"),
        (first["learner_id"], "MBC01105"),
    ]
    by_id = pf.call("GET", "/api/v4/b2b/learners", params={"student_id": first["learner_id"]}).json()
    assert by_id["program_id"] == "MBC01105"


def test_learner_id_must_name_a_learner_whose_alternate_id_is_not_taken(pf: PF) -> None:
    (a,) = pf.learners([learner("owner-a")]).json()
    pf.learners([learner("owner-b")])
    unknown = pf.learners([learner("owner-a", addressbook_info={"learner_id": 12345})])
    assert codes(unknown) == ["E690000003"]
    book = {"learner_id": int(a["learner_id"])}
    other = pf.learners([learner("owner-b", program_info__program_id="MBC01105", addressbook_info=book)])
    assert codes(other) == ["E608600001"]  # owner-b is another learner's alternate id
    assert [len(p["enrollments"]) for p in pf.state()["learners"]] == [1, 1]


def test_a_canceled_program_can_be_enrolled_again_with_learner_id(pf: PF) -> None:
    (first,) = pf.learners([learner("back")]).json()
    pf.call(
        "POST",
        "/api/v4/b2b/learners/cancel",
        json={"student_id": first["learner_id"], "program_id": "00787105"},
    )
    pf.control("/pennfoster/execute-cancels")
    book = {"learner_id": int(first["learner_id"])}
    (again,) = pf.learners([learner("back", addressbook_info=book)]).json()
    assert again["enrollment_status"] == "X" and again["learner_id"] == first["learner_id"]
    (person,) = pf.state()["learners"]
    assert [e["active_status"] for e in person["enrollments"]] == ["Canceled", "Active"]


def test_a_late_answer_comes_after_the_learner_was_recorded(pf: PF) -> None:
    assert pf.control("/pennfoster/late-answers", {"delay": 1.5, "count": 1}) == [
        {"delay": 1.5, "remaining": 1}
    ]
    with pytest.raises(httpx.ReadTimeout):
        pf.call("POST", "/api/v4/b2b/learners", json=[learner("late")], timeout=0.3)
    # Recorded before the answer was held back; the next batch is answered at once.
    assert [p["alternate_id"] for p in pf.state()["learners"]] == ["late"]
    assert pf.state()["late_answers"] == []
    assert codes(pf.learners([learner("late")])) == ["E608600001"]
    assert pf.http.post("/_sandbox/pennfoster/late-answers", json={"delay": 0}).status_code == 400


def test_item_error_control_makes_the_next_items_busy(pf: PF) -> None:
    pf.control("/pennfoster/item-errors", {"code": "E999999001", "count": 1})
    response = pf.learners([learner("a"), learner("b")])
    assert codes(response, 0) == ["E999999001"]
    assert response.json()[1]["enrollment_status"] == "X"
    assert pf.state()["item_faults"] == []


def test_leads_flat_and_nested_are_created_and_validated(pf: PF) -> None:
    other = copy.deepcopy(LEAD)
    other["optional_info"]["alternate_id"] = "lead-2"
    nested = pf.call("POST", "/api/v3/b2b/leads", json=[[LEAD, other]])
    assert [r["lead_status"] for r in nested.json()] == ["X", "X"]
    bad = copy.deepcopy(LEAD)
    bad["optional_info"]["alternate_id"] = "lead-3"
    bad["required_info"]["date_of_birth"] = "1963"
    bad["required_info"]["email_address"] = "x" * 35 + "@example.com"
    flat = pf.call("POST", "/api/v3/b2b/leads", json=[LEAD, bad])
    assert codes(flat, 0) == ["E608600001"]
    assert set(codes(flat, 1)) == {"E690000003", "E690000002"}
    assert pf.call("POST", "/api/v3/b2b/leads", json=[LEAD] * 21).status_code == 400
    assert len(pf.state()["leads"]) == 2


# Lookups, cancel, organizations, controls ------------------------------------------------------


def test_learner_lookups_and_paging(pf: PF) -> None:
    ids = [r["learner_id"] for r in pf.learners([learner(f"a-{i}") for i in range(3)]).json()]
    one = pf.call("GET", "/api/v4/b2b/learners", params={"student_id": ids[1]})
    assert one.json()["alternate_id"] == "a-1"
    assert pf.call("GET", "/api/v4/b2b/learners", params={"student_id": "1"}).status_code == 404
    by_alt = pf.call("GET", "/api/v4/b2b/learners", params={"alternate_id": "a-2"}).json()
    assert [r["learner_id"] for r in by_alt["results"]] == [ids[2]]
    page = pf.call(
        "GET",
        "/api/v4/b2b/learners",
        params={"organization_id": 141982, "page_number": 2, "rows_per_page": 2},
    ).json()
    assert (page["page_count"], page["record_count"], [r["learner_id"] for r in page["results"]]) == (
        2,
        3,
        [ids[2]],
    )
    assert pf.call("GET", "/api/v4/b2b/learners").status_code == 400
    assert pf.call("GET", "/api/v4/b2b/learners", params={"organization_id": 1}).status_code == 404


def test_cancel_requests_are_recorded_not_executed(pf: PF) -> None:
    student = pf.learners([learner("c-1")]).json()[0]["learner_id"]
    receipt = pf.call(
        "POST", "/api/v4/b2b/learners/cancel", json={"alternate_id": "c-1", "program_id": "00787105"}
    ).json()
    assert receipt["student_id"] == int(student) and receipt["resource_id"] == 100
    assert pf.call("POST", "/api/v4/b2b/learners/cancel", json={"alternate_id": "c-1"}).status_code == 400
    assert pf.call("POST", "/api/v4/b2b/learners/cancel", json={}).status_code == 400
    assert pf.call("POST", "/api/v4/b2b/learners/cancel", json={"student_id": "1"}).status_code == 404
    state = pf.state()
    assert [c["status"] for c in state["cancel_requests"]] == ["requested"]
    assert state["learners"][0]["enrollments"][0]["active_status"] == "Active"
    pf.control("/pennfoster/execute-cancels")
    assert pf.state()["learners"][0]["enrollments"][0]["active_status"] == "Canceled"


def test_organization_lookups(pf: PF) -> None:
    org = pf.call("GET", "/api/v3/b2b/organizations/141982").json()
    assert org["locations"][0]["clients"][0]["client_id"] == 329209
    client = pf.call("GET", "/api/v3/b2b/organizations/141982/location/244648/client/329209")
    assert client.status_code == 200
    missing = pf.call("GET", "/api/v3/b2b/organizations/141982/locations/244648/clients/1")
    assert missing.status_code == 404 and missing.json()["errors"][0]["error_code"] == "E607300001"


def test_reset_restores_the_seed(serve: Serve) -> None:
    seed = {"learners": [{"learner_id": "52975707", "alternate_id": "seeded", "organization_id": 141982}]}
    pf = PF(serve(create_app(seed)))
    assert codes(pf.learners([learner("seeded")])) == ["E608600001"]
    pf.learners([learner("new")])
    pf.control("/reset")
    state = pf.state()
    assert [r["alternate_id"] for r in state["learners"]] == ["seeded"] and state["tokens_issued"] == 0
