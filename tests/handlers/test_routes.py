"""Routes configuration: parsing with every mistake named per route, matching, custom field names."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest

from eduhook.settings import Settings
from handlers.partners.eduframe.models import CatalogVariant, Course
from handlers.routes import (
    CustomFieldNames,
    LearnerDefaults,
    Offering,
    RouteConfigError,
    RouteTable,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "routes.example.toml"

PENN_FOSTER = {
    "program_id": "00787105",
    "organization_id": 141982,
    "location_id": 244648,
    "client_id": 329209,
    "enrollment_type": "B2BENRICH",
    "contact_email_address": "enrollments@example.edu",
}
APPSEMBLER = {"course_ids": ["course-v1:Acme+MA101+2024"]}


def route(name: str | None = "nursing", **fields: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"course_code": "NURSE", "penn_foster": copy.deepcopy(PENN_FOSTER)}
    if name is not None:
        entry["name"] = name
    entry.update(fields)
    return {key: value for key, value in entry.items() if value is not None}


def problems(raw: list[dict[str, Any]]) -> list[str]:
    with pytest.raises(RouteConfigError) as caught:
        RouteTable.parse(raw)
    assert str(caught.value).startswith("invalid routes configuration:")
    return caught.value.problems


def test_example_file_parses_with_both_kinds_of_route() -> None:
    data = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    table = RouteTable.parse(data["routes"])
    both, appsembler_only = table.routes
    assert both.penn_foster is not None and both.appsembler is not None
    assert both.penn_foster.defaults == LearnerDefaults(gender="U", phone_type="C", country="USA")
    assert appsembler_only.penn_foster is None and appsembler_only.appsembler is not None
    assert len(appsembler_only.appsembler.course_ids) == 2
    assert CustomFieldNames.parse(data["user_fields"]) == CustomFieldNames()


def test_defaults_fill_what_the_file_leaves_out() -> None:
    (parsed,) = RouteTable.parse([route(appsembler=APPSEMBLER)]).routes
    assert parsed.penn_foster is not None and parsed.appsembler is not None
    target = parsed.penn_foster
    assert (target.completion_document_shipping_preference, target.ship_to_location, target.leads) == (
        "EML",
        False,
        False,
    )
    assert target.defaults.gender == "U" and target.defaults.phone_type is None
    app = parsed.appsembler
    assert (app.create_accounts, app.auto_enroll, app.email_students) == (True, True, False)


def test_every_mistake_is_reported_with_its_route_name() -> None:
    broken = route(
        penn_foster={
            **{k: v for k, v in PENN_FOSTER.items() if k != "program_id"},
            "organization_id": "abc",
            "contact_email_address": "nobody",
            "completion_document_shipping_preference": "FAX",
            "progam_id": "00787105",
        }
    )
    found = problems([broken])
    assert "route 'nursing': penn_foster.program_id: field required" in found
    hint = "did you mean `[routes.penn_foster] program_id`?"
    assert f"route 'nursing': penn_foster.progam_id: unknown field ({hint})" in found
    assert any(p.startswith("route 'nursing': penn_foster.organization_id: ") for p in found)
    assert any(p.startswith("route 'nursing': penn_foster.contact_email_address: ") for p in found)
    assert (
        "route 'nursing': penn_foster.completion_document_shipping_preference: Input should be 'EML' or 'SML'"
        in found
    )
    assert len(found) == 5


def test_problems_of_several_routes_are_all_reported() -> None:
    found = problems(
        [
            route("a", appsembler={"course_ids": ["Acme/MA101/2024"]}),
            route("b", course_code=None),
            route(None, course_id=7),
            route("c", penn_foster=None),
            "not a table",  # type: ignore[list-item]
        ]
    )
    assert found == [
        "route 'a': appsembler.course_ids[0]: course key 'Acme/MA101/2024' is not of the form"
        " course-v1:Org+Code+Run",
        "route 'b': no matcher: give course_id, course_code or catalog_product_id",
        "route #3: name: field required",
        "route 'c': no target: give [routes.penn_foster] and/or [routes.appsembler]",
        "route #5: must be a table ([[routes]])",
    ]


def test_a_route_with_neither_matcher_nor_target_gets_both_problems() -> None:
    assert problems([{"name": "empty"}]) == [
        "route 'empty': no matcher: give course_id, course_code or catalog_product_id",
        "route 'empty': no target: give [routes.penn_foster] and/or [routes.appsembler]",
    ]


def test_duplicate_names_are_a_problem() -> None:
    found = problems([route(course_code="A"), route(course_code="B")])
    assert found == ["route 'nursing': duplicate name (route #1 has it too)"]


@pytest.mark.parametrize(
    ("appsembler", "expected"),
    [
        ({"course_ids": []}, "appsembler.course_ids: List should have at least 1 item after validation"),
        ({"course_ids": ["course-v1:Acme+MA101"]}, "appsembler.course_ids[0]: course key"),
        ({"course_ids": [" course-v1:Acme+MA101+2024"]}, "appsembler.course_ids[0]: course key"),
        (
            {"course_ids": ["course-v1:A+B+C", "course-v1:A+B+C"]},
            "appsembler: course_ids: a course key is listed twice",
        ),
        ({"course_ids": ["course-v1:A+B+C"], "email_students": "maybe"}, "appsembler.email_students: "),
    ],
)
def test_appsembler_target_mistakes(appsembler: dict[str, Any], expected: str) -> None:
    (found,) = problems([route(penn_foster=None, appsembler=appsembler)])
    assert found.startswith(f"route 'nursing': {expected}")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"completion_document_shipping_preference": "eml"}, "completion_document_shipping_preference"),
        ({"program_id": "0078710500000000"}, "program_id: String should have at most 15 characters"),
        ({"organization_id": 123_456_789}, "organization_id: Input should be less than or equal to 99999999"),
        ({"organization_id": 1_419_820, "leads": True}, "penn_foster: organization_id: Penn Foster leads"),
        ({"defaults": {"gender": "X"}}, "defaults.gender: Input should be 'M', 'F' or 'U'"),
        ({"defaults": {"phone_type": "M"}}, "defaults.phone_type"),
        ({"defaults": {"country": "XX"}}, "defaults.country: not an ISO 3166"),
    ],
)
def test_penn_foster_target_mistakes(change: dict[str, Any], expected: str) -> None:
    (found,) = problems([route(penn_foster={**PENN_FOSTER, **change})])
    assert found.startswith("route 'nursing': ") and expected in found


def test_a_route_that_can_never_match_is_a_problem() -> None:
    found = problems([route("broad", course_code="NURSE"), route("narrow", course_code="NURSE", course_id=3)])
    assert found == ["route 'narrow': can never match: route 'broad' above it matches every offering it does"]


def test_matching_on_each_matcher_and_all_of_them() -> None:
    table = RouteTable.parse(
        [
            route("by-both", course_code="NURSE", catalog_product_id=401),
            route("by-code", course_code="NURSE"),
            route("by-id", course_code=None, course_id=101),
            route("by-product", course_code=None, catalog_product_id=402),
        ]
    )

    def name(offering: Offering) -> str | None:
        found = table.match(offering)
        return found.name if found is not None else None

    assert name(Offering(course_id=9, course_code="NURSE", catalog_product_id=401)) == "by-both"
    assert name(Offering(course_id=9, course_code="NURSE", catalog_product_id=400)) == "by-code"
    assert name(Offering(course_id=101, course_code="OTHER", catalog_product_id=None)) == "by-id"
    assert name(Offering(course_id=None, course_code=None, catalog_product_id=402)) == "by-product"
    # First match wins: course 101 with code NURSE matches by-code before by-id.
    assert name(Offering(course_id=101, course_code="NURSE", catalog_product_id=None)) == "by-code"
    # Codes match exactly; an unknown offering has no route.
    assert name(Offering(course_id=None, course_code="nurse", catalog_product_id=None)) is None
    assert name(Offering(course_id=5, course_code=None, catalog_product_id=999)) is None


def test_offering_from_eduframe_records() -> None:
    variant = CatalogVariant(id=301, product_id=401, variantable_type="PlannedCourse", variantable_id=201)
    course = Course(id=101, code="NURSE")
    assert Offering.from_eduframe(variant, course) == Offering(101, "NURSE", 401)
    assert Offering.from_eduframe(variant, None) == Offering(None, None, 401)


def test_from_settings_reads_the_toml_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDUHOOK_CONFIG", raising=False)
    config = tmp_path / "eduhook.toml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    table = RouteTable.from_settings(Settings(config=config))
    assert [r.name for r in table.routes] == ["medical-assistant", "python-self-paced"]
    assert RouteTable.from_settings(Settings()).routes == ()


def test_custom_field_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDUHOOK_CONFIG", raising=False)
    assert CustomFieldNames.from_settings({}) == CustomFieldNames(
        phone="phone", birth_date="birth_date", gender="gender"
    )
    assert CustomFieldNames.from_settings({"phone": "mobile"}).phone == "mobile"
    assert CustomFieldNames.from_settings(Settings()) == CustomFieldNames()
    with pytest.raises(RouteConfigError) as caught:
        CustomFieldNames.parse({"phne": "mobile", "gender": ""})
    assert caught.value.problems == [
        "user_fields.gender: String should have at least 1 character",
        "user_fields.phne: unknown field (did you mean `[user_fields] phone`?)",
    ]
