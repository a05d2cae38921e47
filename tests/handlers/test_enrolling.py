"""Enrollment through real workers against the sandboxes: one learner in several Penn Foster programs,
Appsembler enrollments that wait for their account, and answers lost to timeouts checked, not resent."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from eduhook.ledger import EventLedger, create_engine_for
from eduhook.ledger.effects import EffectLedger, EffectRecord
from eduhook.settings import Settings
from handlers.enrolling import WAITS_FOR_ACCOUNT
from handlers.partners.pennfoster import LearnerRequest, MemoryTokenCache, PennFosterClient
from tests.conftest import FAST_RETRIES
from tests.handlers.conftest import ACCOUNTS, BILLING, BULK, COURSE_KEY, LEARNERS, PROGRAM, World
from tests.handlers.test_e2e import finished, webhook
from tests.handlers.test_failures import fault, settled
from tests.sandbox.test_pennfoster_sandbox import learner

StartProcess = Callable[..., subprocess.Popen[bytes]]
OTHER = "OTH01105"  # a program eduhook never sent: Penn Foster holds the learner from elsewhere


def effects(settings: Settings, event_id: str) -> dict[tuple[str, str, str], EffectRecord]:
    """The event's effects by (action, Eduframe user, target)."""
    engine = create_engine_for(settings.effective_database_url)
    try:
        return {
            (e.key.action, e.key.subject, e.key.target): e for e in EffectLedger(engine).of_event(event_id)
        }
    finally:
        engine.dispose()


def people(world: World) -> dict[str, tuple[str, list[str]]]:
    """Each learner at Penn Foster by alternate id: its student id and the programs it holds."""
    state = httpx.get(world.pennfoster + "/_sandbox/state").json()
    return {
        p["alternate_id"]: (p["learner_id"], [e["program_id"] for e in p["enrollments"]])
        for p in state["learners"]
    }


def requests(base: str, path: str, method: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = httpx.get(base + "/_sandbox/requests", params={"path": path}).json()
    return [r for r in found if r["method"] == method]


def small_students(world: World) -> list[int]:
    items = world.seed.records["orders"][world.small_order_id]["order_items"]
    return [int(item["student_id"] if isinstance(item, dict) else item) for item in items]


def alternate_id(student: int) -> str:
    return f"eduframe:acme:{student}"


# One learner, several Penn Foster programs ------------------------------------------------------


def test_a_second_program_goes_to_the_same_learners_with_their_student_ids(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess
) -> None:
    start_worker()
    [nursing] = finished(eduhook_settings, webhook(receiver_url, "order.approved", id=world.small_order_id))
    [billing] = finished(eduhook_settings, webhook(receiver_url, "order.approved", id=world.billing_order_id))
    assert (nursing.status, billing.status) == ("succeeded", "succeeded"), billing.last_error

    first, second = (call["body"] for call in world.calls(world.pennfoster, LEARNERS))
    assert all("addressbook_info" not in item for item in first)
    assert {item["program_info"]["program_id"] for item in second} == {BILLING}
    sent = {item["learner_info"]["alternate_id"]: item["addressbook_info"]["learner_id"] for item in second}
    # Exactly one learner per student at Penn Foster, holding both programs under the id sent.
    held = people(world)
    assert sorted(held) == sorted(alternate_id(s) for s in small_students(world))
    assert all(programs == [PROGRAM, BILLING] for _, programs in held.values())
    assert {alt: int(student) for alt, (student, _) in held.items()} == sent
    # The student ids came from the ledger: Penn Foster was not asked.
    assert requests(world.pennfoster, LEARNERS, "GET") == []
    for student in small_students(world):
        effect = effects(eduhook_settings, billing.id)[("learner", str(student), BILLING)]
        assert effect.state == "done" and effect.result is not None
        assert effect.result["existing_learner"] is True
        assert effect.result["student_id"] == held[alternate_id(student)][0]


def test_a_learner_penn_foster_holds_from_elsewhere_is_found_and_sent_with_learner_id(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess
) -> None:
    known, *others = small_students(world)
    with PennFosterClient.from_settings(eduhook_settings, token_cache=MemoryTokenCache()) as client:
        body = learner(alternate_id(known), program_info__program_id=OTHER)
        [elsewhere] = client.create_learners([LearnerRequest.model_validate(body)])
    httpx.delete(world.pennfoster + "/_sandbox/requests")
    start_worker()
    [event] = finished(eduhook_settings, webhook(receiver_url, "order.approved", id=world.small_order_id))
    assert (event.status, event.attempts) == ("succeeded", 1), event.last_error

    new, again = (call["body"] for call in world.calls(world.pennfoster, LEARNERS))
    assert len(new) == 3 and all("addressbook_info" not in item for item in new)
    # E608600001 for the one Penn Foster knew: looked up by alternate id, sent again with its id.
    [lookup] = requests(world.pennfoster, LEARNERS, "GET")
    assert f"alternate_id={alternate_id(known).replace(':', '%3A')}" in lookup["query"]
    [item] = again
    assert item["learner_info"]["alternate_id"] == alternate_id(known)
    assert item["addressbook_info"] == {"learner_id": int(elsewhere.student_id or 0)}
    held = people(world)
    assert held[alternate_id(known)] == (elsewhere.student_id, [OTHER, PROGRAM])
    assert all(held[alternate_id(s)][1] == [PROGRAM] for s in others) and len(held) == 3


def test_a_penn_foster_answer_lost_to_a_timeout_is_found_by_alternate_id_not_sent_again(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess,
) -> None:  # fmt: skip
    # Penn Foster records the batch at once and answers after 3 s; the worker gives up after 1 s.
    httpx.post(world.pennfoster + "/_sandbox/pennfoster/late-answers", json={"delay": 3, "count": 1})
    short = {**FAST_RETRIES, "EDUHOOK_HTTP_READ_TIMEOUT": "1"}
    start_worker(**short)
    start_beat(**short)
    [event] = settled(eduhook_settings, webhook(receiver_url, "order.approved", id=world.small_order_id))
    assert (event.status, event.attempts) == ("succeeded", 2), event.last_error
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    first_attempt = ledger.attempts(event.id)[0]
    ledger.engine.dispose()
    assert "create learners: timed out (ReadTimeout)" in (first_attempt.error_message or "")

    assert len(world.calls(world.pennfoster, LEARNERS)) == 1  # never sent blind a second time
    lookups = [r["query"] for r in requests(world.pennfoster, LEARNERS, "GET")]
    assert len(lookups) == 3 and all(q.startswith("alternate_id=") for q in lookups)
    held = people(world)
    assert len(held) == 3 and all(programs == [PROGRAM] for _, programs in held.values())
    for student in small_students(world):
        effect = effects(eduhook_settings, event.id)[("learner", str(student), PROGRAM)]
        assert effect.state == "done" and effect.result is not None
        assert effect.result["student_id"] == held[alternate_id(student)][0]


# An Appsembler enrollment is done only once its account is --------------------------------------

ACCOUNT_FAULTS: dict[str, dict[str, Any]] = {
    "500": {"kind": "status", "status": 500},
    "503": {"kind": "status", "status": 503},
    "429": {"kind": "rate_limit", "retry_after": 1},
    "drop": {"kind": "drop"},
}


@pytest.mark.parametrize("name", list(ACCOUNT_FAULTS))
def test_an_enrollment_is_not_done_while_its_account_failed_and_the_retry_does_both_once(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess, name: str,
) -> None:  # fmt: skip
    fault(world.appsembler, path=ACCOUNTS, method="POST", count=1, **ACCOUNT_FAULTS[name])
    enrollment_id = world.enrollments_of(world.small_order_id)[0]
    student = str(world.seed.records["enrollments"][enrollment_id]["student_id"])
    username = f"acme-{student}"
    start_worker(**FAST_RETRIES)
    event_id = webhook(receiver_url, "enrollment.created", id=enrollment_id)

    [event] = finished(eduhook_settings, event_id)
    assert (event.status, event.last_partner) == ("failed", "appsembler"), event.last_error
    first = effects(eduhook_settings, event_id)
    account, enrollment = first[("account", student, "-")], first[("enroll", student, COURSE_KEY)]
    # A dropped answer may have created the account: in doubt, so it is looked up next time.
    assert account.state == ("in_doubt" if name == "drop" else "failed")
    assert (enrollment.state, enrollment.error) == ("failed", WAITS_FOR_ACCOUNT)
    assert first[("learner", student, PROGRAM)].state == "done"
    assert world.calls(world.appsembler, BULK) == []

    start_beat(**FAST_RETRIES)
    [event] = settled(eduhook_settings, event_id)
    assert (event.status, event.attempts) == ("succeeded", 2), event.last_error
    after = effects(eduhook_settings, event_id)
    assert after[("account", student, "-")].state == after[("enroll", student, COURSE_KEY)].state == "done"
    assert [c["body"]["username"] for c in world.calls(world.appsembler, ACCOUNTS)] == [username, username]
    looked = requests(world.appsembler, f"/appsembler_api/v0/accounts/get-user/{username}", "GET")
    assert len(looked) == (1 if name == "drop" else 0)
    assert len(world.calls(world.appsembler, BULK)) == 1
    state = httpx.get(world.appsembler + "/_sandbox/state").json()
    assert [a["username"] for a in state["accounts"]].count(username) == 1
    assert username in state["enrollments"][COURSE_KEY]  # enrolled with its account, not "allowed"
    assert len(world.calls(world.pennfoster, LEARNERS)) == 1  # done the first time


def test_an_account_answer_lost_to_a_timeout_is_found_by_get_user_not_created_again(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess,
) -> None:  # fmt: skip
    httpx.post(world.appsembler + "/_sandbox/late-answers", json={"delay": 3, "count": 1})
    enrollment_id = world.enrollments_of(world.small_order_id)[0]
    student = str(world.seed.records["enrollments"][enrollment_id]["student_id"])
    short = {**FAST_RETRIES, "EDUHOOK_HTTP_READ_TIMEOUT": "1"}
    start_worker(**short)
    start_beat(**short)
    [event] = settled(eduhook_settings, webhook(receiver_url, "enrollment.created", id=enrollment_id))
    assert (event.status, event.attempts) == ("succeeded", 2), event.last_error
    assert len(world.calls(world.appsembler, ACCOUNTS)) == 1
    assert len(requests(world.appsembler, f"/appsembler_api/v0/accounts/get-user/acme-{student}", "GET")) == 1
    account = effects(eduhook_settings, event.id)[("account", student, "-")]
    assert account.state == "done" and account.result == {
        "username": f"acme-{student}",
        "already_existed": True,
    }
    assert len(world.calls(world.appsembler, BULK)) == 1
