"""``enroll_learners`` against the Penn Foster sandbox (and MockTransport for answers it never gives):
new learners, a second program with ``learner_id``, E608600001 and E614400005, checks before resending."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import ASGIApp

from handlers.errors import InDoubtError, PartnerDataError, PermanentError, TransientError
from handlers.partners.pennfoster import (
    Enrolled,
    LearnerEnrollment,
    NotEnrolled,
    enroll_existing_learners,
    enroll_learners,
)
from sandbox.server import RunningServer
from tests.handlers.partners.test_pennfoster_calls import RECORD
from tests.handlers.partners.test_pennfoster_client import FakePennFoster, make_client
from tests.sandbox.test_pennfoster_end_to_end import Env, model, start

Serve = Callable[[ASGIApp], RunningServer]
PROGRAM, OTHER = "00787105", "MBC01105"
LEARNERS = "/api/v4/b2b/learners"


def enrollment(alternate_id: str, program: str = PROGRAM, **options: Any) -> LearnerEnrollment:
    return LearnerEnrollment(
        model(alternate_id, program_info__program_id=program), what="learner 1", **options
    )


def calls(env: Env) -> list[tuple[str, str]]:
    """(method, query or first learner's learner_id) of every learner call the sandbox received."""
    seen = httpx.get(env.server.url + "/_sandbox/requests", params={"path": LEARNERS}).json()
    return [(r["method"], r["query"] if r["method"] == "GET" else _book(r["body"][0])) for r in seen]


def _book(item: dict[str, Any]) -> str:
    return str(item.get("addressbook_info", {}).get("learner_id", "new"))


def people(env: Env) -> list[tuple[str, list[str]]]:
    """Each learner at Penn Foster with the programs it holds."""
    return [(p["alternate_id"], [e["program_id"] for e in p["enrollments"]]) for p in env.state()["learners"]]


@pytest.fixture
def env(serve: Serve, redis_url: str) -> Env:
    return start(serve, redis_url)


def test_a_new_learner_is_created_with_one_call(env: Env) -> None:
    (outcome,) = enroll_learners(env.client(), [enrollment("n-1")])
    assert isinstance(outcome, Enrolled) and outcome.student_id and outcome.order_number
    assert not outcome.existing_learner and not outcome.already_there
    assert calls(env) == [("POST", "new")]


def test_a_known_student_id_enrolls_the_second_program_with_learner_id(env: Env) -> None:
    client = env.client()
    (first,) = enroll_learners(client, [enrollment("k-1")])
    assert isinstance(first, Enrolled) and first.student_id
    (second,) = enroll_learners(client, [enrollment("k-1", OTHER, student_id=first.student_id)])
    assert isinstance(second, Enrolled) and second.order_number and second.order_number != first.order_number
    assert (second.student_id, second.existing_learner, second.already_there) == (
        first.student_id,
        True,
        False,
    )
    assert calls(env) == [("POST", "new"), ("POST", first.student_id)]
    assert people(env) == [("k-1", [PROGRAM, OTHER])]


def test_alternate_id_exists_looks_the_learner_up_and_sends_learner_id(env: Env) -> None:
    client = env.client()
    (first,) = enroll_learners(client, [enrollment("x-1")])
    assert isinstance(first, Enrolled) and first.student_id
    (second,) = enroll_learners(client, [enrollment("x-1", OTHER)])  # eduhook has no student id
    assert isinstance(second, Enrolled) and second.existing_learner and second.student_id == first.student_id
    assert calls(env)[1:] == [
        ("POST", "new"),
        ("GET", "alternate_id=x-1&page_number=1&rows_per_page=100"),
        ("POST", first.student_id),
    ]
    assert people(env) == [("x-1", [PROGRAM, OTHER])]


def test_alternate_id_exists_with_the_program_held_is_done_without_a_second_post(env: Env) -> None:
    client = env.client()
    enroll_learners(client, [enrollment("h-1")])
    (again,) = enroll_learners(client, [enrollment("h-1")])
    assert isinstance(again, Enrolled) and again.already_there and again.student_id
    assert [method for method, _ in calls(env)] == ["POST", "POST", "GET"]
    assert people(env) == [("h-1", [PROGRAM])]


def test_product_code_exists_for_the_student_is_done(env: Env) -> None:
    client = env.client()
    (first,) = enroll_learners(client, [enrollment("p-1")])
    assert isinstance(first, Enrolled)
    (again,) = enroll_learners(client, [enrollment("p-1", student_id=first.student_id)])
    assert again == Enrolled(first.student_id, existing_learner=True, already_there=True)
    assert people(env) == [("p-1", [PROGRAM])]


def test_check_first_finds_what_an_unanswered_request_created(serve: Serve, redis_url: str) -> None:
    env = start(serve, redis_url, http_read_timeout=0.3)
    client = env.client()
    env.control("/pennfoster/late-answers", {"delay": 1, "count": 1})
    (lost,) = enroll_learners(client, [enrollment("c-1")])
    assert isinstance(lost, NotEnrolled) and lost.in_doubt and isinstance(lost.error, InDoubtError)
    assert "timed out (ReadTimeout)" in str(lost.error)
    (found,) = enroll_learners(client, [enrollment("c-1", check_first=True)])
    assert isinstance(found, Enrolled) and found.already_there and found.student_id
    assert [method for method, _ in calls(env)] == ["POST", "GET"]  # found: not sent again
    assert people(env) == [("c-1", [PROGRAM])]


def test_check_first_sends_what_penn_foster_does_not_hold(env: Env) -> None:
    client = env.client()
    (first,) = enroll_learners(client, [enrollment("d-1")])
    assert isinstance(first, Enrolled)
    unknown, known = enroll_learners(
        client, [enrollment("d-2", check_first=True), enrollment("d-1", OTHER, check_first=True)]
    )
    assert isinstance(unknown, Enrolled) and not unknown.existing_learner
    assert isinstance(known, Enrolled) and known.existing_learner and known.student_id == first.student_id
    assert [c for c in calls(env) if c[0] == "POST"] == [
        ("POST", "new"),
        ("POST", "new"),
        ("POST", first.student_id),
    ]
    assert people(env) == [("d-1", [PROGRAM, OTHER]), ("d-2", [PROGRAM])]


def test_a_mixed_batch_keeps_its_order(env: Env) -> None:
    client = env.client()
    (a,) = enroll_learners(client, [enrollment("m-a")])
    enroll_learners(client, [enrollment("m-b")])
    assert isinstance(a, Enrolled)
    batch = [
        enrollment("m-new", OTHER),
        enrollment("m-b", OTHER),
        enrollment("m-a", OTHER, student_id=a.student_id),
    ]
    new, existing, known = enroll_learners(client, batch)
    assert isinstance(new, Enrolled) and not new.existing_learner
    assert isinstance(existing, Enrolled) and existing.existing_learner
    assert isinstance(known, Enrolled) and known.student_id == a.student_id
    assert sorted(people(env)) == [("m-a", [PROGRAM, OTHER]), ("m-b", [PROGRAM, OTHER]), ("m-new", [OTHER])]


# Answers the sandbox does not give --------------------------------------------------------------


def answering(*, post: list[list[dict[str, Any]]], lookup: list[dict[str, Any]] | int) -> FakePennFoster:
    """A Penn Foster that answers the POSTs in turn and every lookup with ``lookup`` (records or a status)."""
    posts = iter(post)

    def api(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json=next(posts))
        if isinstance(lookup, int):
            return httpx.Response(lookup, json={"message": "sandbox says no"})
        return httpx.Response(200, json={"page_number": 1, "page_count": 1, "results": lookup})

    return FakePennFoster(api)


def refused(*codes: str) -> dict[str, Any]:
    return {
        "enrollment_status": "E",
        "learner_id": "",
        "errors": [{"error_code": c, "message": "x"} for c in codes],
    }


def test_exists_but_nobody_found_is_transient_and_not_in_doubt() -> None:
    fake = answering(post=[[refused("E608600001")]], lookup=[])
    (outcome,) = enroll_learners(make_client(fake), [enrollment("alt-1")])
    assert isinstance(outcome, NotEnrolled) and not outcome.in_doubt
    assert type(outcome.error) is TransientError and "finds no learner under its alternate id" in str(
        outcome.error
    )


def test_two_students_under_one_alternate_id_need_a_person() -> None:
    fake = answering(post=[[refused("E608600001")]], lookup=[RECORD, RECORD | {"learner_id": "52975708"}])
    (outcome,) = enroll_learners(make_client(fake), [enrollment("alt-1")])
    assert isinstance(outcome, NotEnrolled) and isinstance(outcome.error, PartnerDataError)
    assert "2 Penn Foster students share its alternate id" in str(outcome.error)


def test_a_canceled_program_is_not_held_and_is_sent_again_with_learner_id() -> None:
    canceled = RECORD | {"program_id": PROGRAM, "active_status": "Canceled"}
    fake = answering(
        post=[[refused("E608600001")], [{"enrollment_status": "X", "learner_id": "52975707"}]],
        lookup=[canceled],
    )
    (outcome,) = enroll_learners(make_client(fake), [enrollment("alt-1")])
    assert isinstance(outcome, Enrolled) and outcome.existing_learner and not outcome.already_there
    resent = orjson.loads(fake.api_requests[-1].content)[0]
    assert resent["addressbook_info"] == {"learner_id": 52975707}


def test_exists_although_sent_with_learner_id_is_permanent() -> None:
    fake = answering(post=[[refused("E608600001")]], lookup=[])
    (outcome,) = enroll_learners(make_client(fake), [enrollment("alt-1", student_id="52975707")])
    assert isinstance(outcome, NotEnrolled) and type(outcome.error) is PermanentError
    assert "though sent with the learner's student id" in str(outcome.error)
    assert outcome.error.partner_code == "E608600001"


def test_busy_answer_is_in_doubt() -> None:
    fake = answering(post=[[refused("E999999001")]], lookup=[])
    (outcome,) = enroll_learners(make_client(fake), [enrollment("alt-1")])
    assert (
        isinstance(outcome, NotEnrolled) and outcome.in_doubt and outcome.error.partner_code == "E999999001"
    )


def test_a_failed_check_stays_in_doubt_and_sends_nothing() -> None:
    fake = answering(post=[], lookup=503)
    (outcome,) = enroll_learners(make_client(fake), [enrollment("alt-1", check_first=True)])
    assert isinstance(outcome, NotEnrolled) and outcome.in_doubt and outcome.error.status_code == 503
    assert [r.method for r in fake.api_requests] == ["GET"]


def test_a_failed_lookup_after_exists_is_not_in_doubt() -> None:
    fake = answering(post=[[refused("E608600001")]], lookup=503)
    (outcome,) = enroll_learners(make_client(fake), [enrollment("alt-1")])
    assert isinstance(outcome, NotEnrolled) and not outcome.in_doubt and outcome.error.status_code == 503


def test_a_recorded_student_id_that_is_not_a_number_is_refused_before_sending() -> None:
    fake = answering(post=[], lookup=[])
    outcomes = enroll_existing_learners(make_client(fake), {7: enrollment("alt-1", student_id="S-123")})
    assert list(outcomes) == [7]
    assert isinstance(outcomes[7], NotEnrolled) and isinstance(outcomes[7].error, PartnerDataError)
    assert fake.api_requests == []


def test_a_whole_batch_refused_fails_every_learner_not_in_doubt() -> None:
    fake = FakePennFoster(lambda r: httpx.Response(503, json={"message": "down"}))
    outcomes = enroll_learners(make_client(fake), [enrollment("a"), enrollment("b", student_id="1")])
    assert [type(o) for o in outcomes] == [NotEnrolled, NotEnrolled]
    assert all(isinstance(o, NotEnrolled) and not o.in_doubt and o.error.status_code == 503 for o in outcomes)
