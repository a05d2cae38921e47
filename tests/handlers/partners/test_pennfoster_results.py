"""Classifying Penn Foster per-item results, and what the request models refuse or hide."""

from __future__ import annotations

import httpx
import orjson
import pytest
from pydantic import ValidationError

from handlers.errors import AlreadyDoneError, PartnerDataError, PermanentError, TransientError
from handlers.partners.pennfoster import (
    LeadResult,
    LearnerRequest,
    LearnerResult,
    classify_learner_result,
    classify_result,
)
from tests.handlers.partners.test_pennfoster_client import FakePennFoster, learner_body, make_client


def result(*codes: str, status: str = "E") -> LearnerResult:
    return LearnerResult.model_validate(
        {
            "enrollment_status": status,
            "errors": [
                {"error_code": c, "message": "Order is currently being processed by: jsmith"} for c in codes
            ],
        }
    )


def test_x_is_succeeded() -> None:
    outcome = classify_result(result(status="X"), what="enroll")
    assert outcome.kind == "succeeded" and outcome.error is None
    outcome.raise_error()  # nothing to raise


@pytest.mark.parametrize("code", ["E608600001", "E602500002", "E614400005"])
def test_already_done_codes(code: str) -> None:
    outcome = classify_result(result(code), what="enroll")
    assert outcome.kind == "already_done"
    assert isinstance(outcome.error, AlreadyDoneError) and outcome.error.partner_code == code
    with pytest.raises(AlreadyDoneError):
        outcome.raise_error()


@pytest.mark.parametrize(
    "codes", [("E614400005",), ("E608600001", "E614400005"), ("E614400005", "E602500002")]
)
def test_for_learners_only_product_code_exists_is_already_done(codes: tuple[str, ...]) -> None:
    outcome = classify_learner_result(result(*codes), what="learner for Eduframe user 7")
    assert outcome.kind == "already_done"
    assert isinstance(outcome.error, AlreadyDoneError) and outcome.error.partner_code == "E614400005"


@pytest.mark.parametrize("codes", [("E608600001",), ("E602500002",), ("E602500002", "E608600001")])
def test_for_learners_alternate_id_exists_says_only_that_the_learner_exists(codes: tuple[str, ...]) -> None:
    outcome = classify_learner_result(result(*codes), what="learner for Eduframe user 7")
    assert outcome.kind == "exists"
    # Carried for when the learner cannot be resolved: permanent, naming the codes and their meaning.
    assert type(outcome.error) is PermanentError and outcome.error.partner_code == codes[0]
    assert "Alternate id already exists" in str(outcome.error) or "active enrollment" in str(outcome.error)


@pytest.mark.parametrize(
    ("codes", "kind"),
    [(("E999999001", "E608600001"), "transient"), (("E608600001", "E601400001"), "permanent")],
)
def test_for_learners_busy_and_validation_codes_win_over_exists(codes: tuple[str, ...], kind: str) -> None:
    assert classify_learner_result(result(*codes), what="learner").kind == kind


def test_busy_code_is_transient_and_the_partner_text_stays_out() -> None:
    outcome = classify_result(result("E999999001"), what="enroll")
    assert outcome.kind == "transient"
    assert isinstance(outcome.error, TransientError) and outcome.error.partner_code == "E999999001"
    assert "Order is currently being processed" in str(outcome.error)
    assert "jsmith" not in str(outcome.error)


@pytest.mark.parametrize("codes", [("E601400001",), ("E608600001", "E601400001"), ("E123",)])
def test_other_codes_are_permanent(codes: tuple[str, ...]) -> None:
    outcome = classify_result(result(*codes), what="enroll")
    assert outcome.kind == "permanent"
    assert type(outcome.error) is PermanentError
    assert outcome.error.partner_code == next(c for c in codes if c != "E608600001")


def test_error_without_codes_and_unknown_status_are_permanent() -> None:
    assert classify_result(result(), what="enroll").kind == "permanent"
    odd = classify_result(LeadResult(lead_status="Q"), what="lead")
    assert odd.kind == "permanent" and isinstance(odd.error, PartnerDataError)


def test_learner_sizes_are_checked_without_echoing_values() -> None:
    body = learner_body()
    body["learner_info"]["first_name"] = "Bartholomew" * 4  # 44 > 40
    body["learner_info"]["email_address"] = "not-an-email"
    with pytest.raises(ValidationError) as info:
        LearnerRequest.model_validate(body)
    text = str(info.value)
    assert "learner_info.first_name" in text and "learner_info.email_address" in text
    assert "Bartholomew" not in text and "not-an-email" not in text


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("organization_info", "completion_document_shipping_preference"), "PDF"),
        (("learner_info", "gender"), "X"),
        (("learner_info", "date_of_birth"), "1/1/90"),
        (("learner_info", "address", "country"), "US"),
        (("program_info", "program_id"), "P" * 16),
    ],
)
def test_documented_formats_are_enforced(path: tuple[str, ...], value: str) -> None:
    body = learner_body()
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValidationError):
        LearnerRequest.model_validate(body)


def test_personal_and_payment_fields_are_hidden_but_sent() -> None:
    body = learner_body()
    body["payment_info"] = {
        "net_price": 1000,
        "account_info": {"account_number": "4111111111111111", "cc_cvv": "123"},
    }
    request = LearnerRequest.model_validate(body)
    shown = repr(request) + request.model_dump_json()
    assert "Joe" not in repr(request) and "joe.smith@example.com" not in repr(request)
    assert "4111111111111111" not in shown and '123"' not in request.model_dump_json()

    def echo(r: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=[{"enrollment_status": "X", "errors": []}])

    fake = FakePennFoster(echo)
    make_client(fake).create_learners([request])
    sent = orjson.loads(fake.api_requests[0].content)[0]
    assert sent["payment_info"]["account_info"] == {"account_number": "4111111111111111", "cc_cvv": "123"}
    assert sent["learner_info"]["first_name"] == "Joe"
