"""Eduframe → partner mapping: Penn Foster's field rules, errors without personal values, stable ids."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from handlers.errors import PermanentError
from handlers.mapping import (
    ALTERNATE_ID_MAX,
    alternate_id,
    appsembler_account,
    appsembler_username,
    lead_alternate_id,
    lead_request,
    learner_request,
    transaction_guid,
    values,
)
from handlers.partners.eduframe.models import User
from handlers.partners.eduframe.webhooks import Lead
from handlers.routes import CustomFieldNames, LearnerDefaults, PennFosterTarget

FIELDS = CustomFieldNames()
TARGET = PennFosterTarget(
    program_id="00787105",
    organization_id=141982,
    location_id=244648,
    client_id=329209,
    enrollment_type="B2BENRICH",
    contact_email_address="enrollments@example.edu",
    leads=True,
)


def user(**changes: Any) -> User:
    data: dict[str, Any] = {
        "id": 1001,
        "first_name": "José-María",
        "middle_name": "Q.",
        "last_name": "O'Brien Ødegård",
        "email": "jose@example.com",
        "custom": {"phone": "+1 (555) 010-0100", "birth_date": "1990-04-01", "gender": "male"},
        "address": {
            "address": "999 18th St",
            "address_line2": "Apt 4",
            "city": "Denver",
            "state_province": "CO",
            "postal_code": "80202",
            "country": "US",
        },
    }
    address = changes.pop("address", {})
    custom = changes.pop("custom", {})
    data["address"] = None if address is None else {**data["address"], **address}
    data["custom"] = {k: v for k, v in {**data["custom"], **custom}.items() if v is not None}
    return User.model_validate({**data, **changes})


def learner(u: User, target: PennFosterTarget = TARGET, fields: CustomFieldNames = FIELDS) -> dict[str, Any]:
    request = learner_request(u, target, educator="acme", effect_key="order:5001:user:1001", fields=fields)
    return request.model_dump(mode="json", exclude_none=True)


def refusal(u: User, target: PennFosterTarget = TARGET) -> str:
    with pytest.raises(PermanentError) as caught:
        learner_request(u, target, educator="acme", effect_key="k", fields=FIELDS)
    message = str(caught.value)
    for personal in ("José", "Brien", "jose@example.com", "555", "1990", "Denver", "80202", "999 18th"):
        assert personal not in message
    assert message.startswith("penn_foster learner: ") and "Eduframe user 1001" in message
    return message


def test_learner_request_follows_the_documented_rules() -> None:
    body = learner(user())
    info = body["learner_info"]
    assert (info["first_name"], info["last_name"]) == ("JoseMaria", "OBrienOdegard")
    assert info["phone_number"] == "15550100100"
    assert info["date_of_birth"] == "04011990"
    assert info["gender"] == "M"
    assert info["email_address"] == "jose@example.com"
    assert info["alternate_id"] == "eduframe:acme:1001"
    assert info["address"] == {
        "address_1": "999 18th St",
        "address_2": "Apt 4",
        "city": "Denver",
        "state": "CO",
        "postal_code": "80202",
        "country": "USA",
    }
    assert body["organization_info"] == {
        "organization_id": 141982,
        "location_id": 244648,
        "client_id": 329209,
        "contact_email_address": "enrollments@example.edu",
        "ship_to_location": False,
        "completion_document_shipping_preference": "EML",
    }
    assert body["program_info"] == {"program_id": "00787105"}
    assert body["enrollment_type"] == "B2BENRICH"
    assert body["transaction_guid"] == transaction_guid("order:5001:user:1001")


def test_personal_values_stay_out_of_the_request_repr() -> None:
    request = learner_request(user(), TARGET, educator="acme", effect_key="k", fields=FIELDS)
    shown = repr(request)
    assert "Jose" not in shown and "jose@example.com" not in shown and "15550100100" not in shown


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Anne-Sophie", "AnneSophie"),
        ("D'Angelo", "DAngelo"),
        ("van der Berg", "vanderBerg"),
        ("Zoë Ñúñez", "ZoeNunez"),
        ("Weiß", "Weiss"),
        ("Łukasz", "Lukasz"),
        ("  Ann  ", "Ann"),
        ("Jr. 3rd", "Jrrd"),
    ],
)
def test_names_keep_letters_only(raw: str, expected: str) -> None:
    assert values.letters(raw, 40) == expected


def test_a_name_without_letters_or_too_long_is_refused() -> None:
    assert "learner_info.first_name invalid (no letters)" in refusal(user(first_name="李小龍"))
    assert "learner_info.last_name missing" in refusal(user(last_name="  "))
    assert "learner_info.last_name too long (max 40)" in refusal(user(last_name="A" * 41))
    assert learner(user(last_name="A-" * 40))["learner_info"]["last_name"] == "A" * 40


def test_phone_is_digits_only_and_required() -> None:
    assert (
        learner(user(custom={"phone": "+31 (0)6-1234 5678"}))["learner_info"]["phone_number"]
        == "310612345678"
    )
    message = refusal(user(custom={"phone": None}))
    assert "learner_info.phone_number missing (Eduframe custom field 'phone')" in message
    assert "learner_info.phone_number invalid (no digits)" in refusal(user(custom={"phone": "n/a"}))
    assert "learner_info.phone_number too long (max 60)" in refusal(user(custom={"phone": "5" * 61}))


def test_custom_field_names_come_from_configuration() -> None:
    fields = CustomFieldNames(phone="mobile", birth_date="dob", gender="sex")
    u = user(custom={"mobile": "555 0199", "dob": "2001-12-31", "sex": "V"})
    info = learner(u, fields=fields)["learner_info"]
    assert (info["phone_number"], info["date_of_birth"], info["gender"]) == ("5550199", "12312001", "F")


def test_birth_date_is_mmddyyyy_and_optional() -> None:
    assert (
        learner(user(custom={"birth_date": "2001-02-03T00:00:00Z"}))["learner_info"]["date_of_birth"]
        == "02032001"
    )
    assert "date_of_birth" not in learner(user(custom={"birth_date": None}))["learner_info"]
    assert "learner_info.date_of_birth invalid (expected YYYY-MM-DD)" in refusal(
        user(custom={"birth_date": "01-04-1990"})
    )
    assert "invalid (no such date)" in refusal(user(custom={"birth_date": "1990-02-30"}))
    assert values.birth_date(date(1990, 4, 1)) == "04011990"
    with pytest.raises(values.Unusable, match="plausible"):
        values.birth_date("2030-01-01", today=date(2025, 1, 1))


def test_gender_default_and_synonyms() -> None:
    assert learner(user(custom={"gender": None}))["learner_info"]["gender"] == "U"
    target = TARGET.model_copy(update={"defaults": LearnerDefaults(gender="F", phone_type="C")})
    info = learner(user(custom={"gender": None}), target=target)["learner_info"]
    assert (info["gender"], info["phone_type"]) == ("F", "C")
    assert [values.gender(g, "U") for g in ("m", "Female", "vrouw", "Onbekend", "x")] == [
        "M",
        "F",
        "F",
        "U",
        "U",
    ]
    assert "learner_info.gender invalid (expected M, F or U)" in refusal(user(custom={"gender": "robot"}))


def test_country_alpha2_becomes_alpha3_with_pycountry() -> None:
    nl = user(address={"country": "nl", "state_province": None, "city": "Utrecht", "postal_code": "3511 AB"})
    target = TARGET.model_copy(update={"defaults": LearnerDefaults(state_outside_us="ZZ")})
    address = learner(nl, target=target)["learner_info"]["address"]
    assert (address["country"], address["state"]) == ("NLD", "ZZ")
    ca = user(address={"country": "CA", "state_province": "Ontario"})
    assert learner(ca)["learner_info"]["address"]["state"] == "ON"
    message = refusal(user(address={"country": "XX"}))
    assert "learner_info.address.country invalid (not an ISO 3166 country code)" in message
    assert "Eduframe user 1001" in message and "XX" not in message


def test_a_missing_country_takes_the_route_default_or_is_refused() -> None:
    target = TARGET.model_copy(update={"defaults": LearnerDefaults(country="USA")})
    assert (
        learner(user(address={"country": None}), target=target)["learner_info"]["address"]["country"] == "USA"
    )
    assert "learner_info.address.country missing" in refusal(user(address={"country": None}))


def test_state_is_two_letters_in_the_us() -> None:
    assert learner(user(address={"state_province": "colorado"}))["learner_info"]["address"]["state"] == "CO"
    assert learner(user(address={"state_province": "ny"}))["learner_info"]["address"]["state"] == "NY"
    assert "learner_info.address.state invalid (not a US state)" in refusal(
        user(address={"state_province": "ZZ"})
    )
    # No guessing in the US: state_outside_us never applies there.
    target = TARGET.model_copy(update={"defaults": LearnerDefaults(state_outside_us="ZZ")})
    assert "learner_info.address.state missing" in refusal(user(address={"state_province": None}), target)
    assert "learner_info.address.state missing" in refusal(
        user(address={"country": "NL", "state_province": None})
    )


def test_address_sizes_and_required_parts() -> None:
    assert "learner_info.address.city too long (max 25)" in refusal(user(address={"city": "C" * 26}))
    assert "learner_info.address.address_1 too long (max 60)" in refusal(user(address={"address": "S" * 61}))
    assert "learner_info.address.postal_code missing" in refusal(user(address={"postal_code": ""}))
    assert "learner_info.address missing (Eduframe address)" in refusal(user(address=None))
    assert "learner_info.email_address invalid" in refusal(user(email="jose at example"))
    assert "learner_info.email_address too long (max 60)" in refusal(user(email="j" * 50 + "@example.com"))


def test_alternate_id_is_deterministic_and_bounded() -> None:
    assert alternate_id("acme", 1001) == alternate_id("acme", 1001) == "eduframe:acme:1001"
    assert alternate_id("acme", 1002) != alternate_id("acme", 1001)
    long_a, long_b = "a" * 80 + "-one", "a" * 80 + "-two"
    assert len(alternate_id(long_a, 2**63)) <= ALTERNATE_ID_MAX
    assert alternate_id(long_a, 7) != alternate_id(long_b, 7)
    odd = alternate_id("acme academy/nl", 7)
    assert odd.endswith(":7") and " " not in odd and "/" not in odd
    assert lead_alternate_id("acme", 12, "00787105") == "eduframe:acme:lead:12:00787105"


def test_transaction_guid_is_a_uuid5_of_the_effect_key() -> None:
    guid = transaction_guid("penn_foster:enroll:acme:1001:00787105")
    assert uuid.UUID(guid).version == 5 and len(guid) == 36
    assert guid == transaction_guid("penn_foster:enroll:acme:1001:00787105")
    assert guid != transaction_guid("penn_foster:enroll:acme:1002:00787105")


def test_appsembler_account() -> None:
    account = appsembler_account(user(), educator="acme")
    assert account.username == "acme-1001" and account.email == "jose@example.com"
    assert account.name == "José-María Q. O'Brien Ødegård"
    assert "jose" not in repr(account).lower() and "acme-1001" in repr(account)
    assert (
        appsembler_account(user(first_name=None, middle_name=None, last_name=None), educator="acme").name
        == "acme-1001"
    )
    with pytest.raises(PermanentError) as caught:
        appsembler_account(user(email=None), educator="acme")
    assert str(caught.value).startswith("appsembler account: email missing for Eduframe user 1001")


@pytest.mark.parametrize("educator", ["acme", "Acme.Academy", "a" * 40, "école des arts", "x"])
def test_appsembler_usernames_are_valid_for_open_edx(educator: str) -> None:
    for user_id in (1, 1001, 2**63 - 1):
        name = appsembler_username(educator, user_id)
        assert 2 <= len(name) <= 30 and name.replace("-", "").replace("_", "").isalnum() and name.isascii()
        assert name == appsembler_username(educator, user_id) and name.endswith(f"-{user_id}")
    assert appsembler_username(educator, 1) != appsembler_username(educator + "x", 1)


def lead(**changes: Any) -> Lead:
    data: dict[str, Any] = {
        "id": 12,
        "first_name": "Ann",
        "last_name": "Lee-Smith",
        "email": "ann@example.com",
        "phone": "+1 570 123 4567",
        "address": {
            "address": "1313 Mockingbird Lane",
            "city": "Mockingbird Heights",
            "country": "US",
            "state_province": "CA",
            "postal_code": "90210",
        },
        "lead_products": [{"catalog_product_id": 401, "catalog_variant_id": 301}],
    }
    return Lead.model_validate({**data, **changes})


def test_lead_request_needs_a_birth_date_from_the_linked_user() -> None:
    with pytest.raises(PermanentError) as caught:
        lead_request(lead(), TARGET, educator="acme", effect_key="k")
    message = str(caught.value)
    assert message.startswith("penn_foster lead: required_info.date_of_birth missing")
    assert "Eduframe lead 12" in message and "Ann" not in message
    request = lead_request(lead(), TARGET, educator="acme", effect_key="k", user=user(custom={"gender": "f"}))
    body = request.model_dump(mode="json", exclude_none=True)
    assert body["required_info"] == {
        "organization_id": 141982,
        "location_id": 244648,
        "client_id": 329209,
        "program_id": "00787105",
        "first_name": "Ann",
        "last_name": "LeeSmith",
        "date_of_birth": "04011990",
        "phone_number": "15701234567",
        "email_address": "ann@example.com",
        "contact_email_address": "enrollments@example.edu",
    }
    assert body["optional_info"]["gender"] == "F"
    assert body["optional_info"]["alternate_id"] == "eduframe:acme:lead:12:00787105"
    assert body["optional_info"]["address"]["country"] == "USA"
    assert body["optional_info"]["address"]["city"] == "Mockingbird Heights"


def test_lead_sizes_are_the_lead_tables() -> None:
    u = user()
    with pytest.raises(PermanentError, match=r"required_info.email_address too long \(max 40\)"):
        lead_request(lead(email="a" * 30 + "@example.com"), TARGET, educator="acme", effect_key="k", user=u)
    with pytest.raises(PermanentError, match=r"optional_info.address.address_1 too long \(max 40\)"):
        lead_request(
            lead(
                address={
                    "address": "S" * 41,
                    "city": "X",
                    "country": "US",
                    "state_province": "CA",
                    "postal_code": "1",
                }
            ),
            TARGET,
            educator="acme",
            effect_key="k",
            user=u,
        )
    no_address = lead_request(lead(address=None, phone=None), TARGET, educator="acme", effect_key="k", user=u)
    assert no_address.optional_info is not None and no_address.optional_info.address is None
    assert no_address.required_info.phone_number == "15550100100"  # the user's phone fills in
