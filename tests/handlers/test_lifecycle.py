"""An enrollment's life end to end: webhooks → receiver → real worker processes → sandboxes over loopback.

Cancelling and enrolling again, moving to another course, forged deletions, and events about
records Eduframe no longer has.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from eduhook.ledger import create_engine_for, upgrade
from eduhook.settings import Settings
from handlers.mapping import appsembler_username
from tests.conftest import REPO_ROOT, TEST_TOKEN, settings_env
from tests.handlers.conftest import BILLING, BULK, CONFIG, COURSE_KEY, LEARNERS, PROGRAM, World
from tests.handlers.test_e2e import StartWorker, finished, webhook

AUTH = {"Authorization": "Bearer eduframe-sandbox-token"}
NURSING_PLANNED = 201  # the seed's first offering, PF-NURSE
PLUS_COURSE, PLUS_PLANNED = 150, 250  # added below: same Penn Foster program, another Open edX course
PLUS_KEY = "course-v1:Appsembler+APP101+1Q2016"
NEW_ENROLLMENT_IDS = itertools.count(8001)
PLUS_ROUTE = f"""
[[routes]]
name = "nursing-plus"
course_code = "PF-NURSE-PLUS"
[routes.penn_foster]
program_id = "{PROGRAM}"
organization_id = 141982
location_id = 244648
client_id = 329209
enrollment_type = "B2B"
contact_email_address = "enrollments@example.com"
[routes.appsembler]
course_ids = ["{PLUS_KEY}"]
create_accounts = true
auto_enroll = true
"""


@pytest.fixture
def eduhook_settings(tmp_path: Path, database_url: str, redis_url: str, world: World) -> Settings:
    """The handler tests' settings plus a second route, and its course in the Eduframe sandbox."""
    seeded = httpx.post(world.eduframe + "/_sandbox/seed", json={
        "courses": [{"id": PLUS_COURSE, "code": "PF-NURSE-PLUS", "name": "Nursing Assistant Plus"}],
        "planned_courses": [{"id": PLUS_PLANNED, "course_id": PLUS_COURSE}],
    })  # fmt: skip
    assert seeded.status_code == 200, seeded.text
    config = tmp_path / "eduhook.toml"
    routes = CONFIG.format(w=world, program=PROGRAM, billing=BILLING, course=COURSE_KEY)
    config.write_text(routes + PLUS_ROUTE)
    settings = Settings(
        config=config, data_dir=tmp_path / "var", database_url=database_url, redis_url=redis_url,
        webhook_tokens=[TEST_TOKEN], educators=[], handler_modules=["handlers.builtin"],
    )  # fmt: skip
    engine = create_engine_for(database_url)
    upgrade(engine)
    engine.dispose()
    return settings


def add_enrollment(world: World, student: int, planned_course_id: int = NURSING_PLANNED, **extra: Any) -> int:
    """A new enrollment in the Eduframe sandbox (as a student enrolling on the site makes one)."""
    enrollment_id = next(NEW_ENROLLMENT_IDS)  # Eduframe never gives a deleted record's id again
    record = {"id": enrollment_id, "student_id": student, "planned_course_id": planned_course_id, **extra}
    assert httpx.post(world.eduframe + "/_sandbox/seed", json={"enrollments": [record]}).status_code == 200
    return enrollment_id


def add_student(world: World, like: int, student_id: int) -> int:
    """A new Eduframe user with ``like``'s details, enrolled in nothing yet."""
    email = f"student-{student_id}@example.com"
    user = world.seed.records["users"][like] | {"id": student_id, "email": email}
    assert httpx.post(world.eduframe + "/_sandbox/seed", json={"users": [user]}).status_code == 200
    return student_id


def enrolled_at_appsembler(world: World, course: str) -> list[str]:
    enrollments: dict[str, list[str]] = httpx.get(world.appsembler + "/_sandbox/state").json()["enrollments"]
    return enrollments.get(course, [])


def bulk_calls(world: World, action: str) -> list[list[str]]:
    """The identifiers of every Appsembler bulk call with this action, in order."""
    calls = world.calls(world.appsembler, BULK)
    return [c["body"]["identifiers"].split(",") for c in calls if c["body"]["action"] == action]


def partner_calls(world: World) -> int:
    return sum(
        len(httpx.get(base + "/_sandbox/requests").json()) for base in (world.pennfoster, world.appsembler)
    )


def eduhook(settings: Settings, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "eduhook.cli", *args],
        env=settings_env(settings), cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def rerun(settings: Settings, event_id: str) -> None:
    """``eduhook replay --force``: the event runs again, whatever its status."""
    eduhook(settings, "replay", event_id, "--force", "--reason", "test: an old event once more")


def test_cancel_then_enroll_again_enrolls_once_more_and_old_events_do_nothing(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker()
    order_event = webhook(receiver_url, "order.approved", id=world.small_order_id)
    assert finished(eduhook_settings, order_event)[0].status == "succeeded"
    enrollment_id = world.enrollments_of(world.small_order_id)[0]
    student = world.seed.records["enrollments"][enrollment_id]["student_id"]
    email = world.seed.records["users"][student]["email"]
    username = appsembler_username("acme", student)
    [first_learner] = [item for c in world.calls(world.pennfoster, LEARNERS) for item in c["body"]
                       if item["learner_info"]["alternate_id"] == f"eduframe:acme:{student}"]  # fmt: skip
    learners = httpx.get(world.pennfoster + "/_sandbox/state").json()["learners"]
    [at_pennfoster] = [
        learner for learner in learners if learner["alternate_id"] == f"eduframe:acme:{student}"
    ]

    # The student cancels: a Penn Foster cancel request and an Appsembler unenrollment, once.
    assert httpx.put(f"{world.eduframe}/enrollments/{enrollment_id}/cancel", headers=AUTH).status_code == 200
    cancel_event = webhook(receiver_url, "enrollment.updated", id=enrollment_id)
    assert finished(eduhook_settings, cancel_event)[0].status == "succeeded"
    [cancel] = world.calls(world.pennfoster, LEARNERS + "/cancel")
    assert cancel["body"]["student_id"] == at_pennfoster["learner_id"]
    assert bulk_calls(world, "unenroll") == [[email]]
    assert username not in enrolled_at_appsembler(world, COURSE_KEY)

    # The order's own event again (a replay): its enrollment was cancelled, nothing is sent.
    before = partner_calls(world)
    rerun(eduhook_settings, order_event)
    replayed = finished(eduhook_settings, order_event)[0]
    assert (replayed.status, replayed.attempts) == ("succeeded", 2)
    assert partner_calls(world) == before

    # Penn Foster's staff carry the cancellation out; then the student enrolls again: generation 2,
    # a re-enrollment of the learner Penn Foster has.
    assert httpx.post(world.pennfoster + "/_sandbox/pennfoster/execute-cancels").status_code == 200
    again_id = add_enrollment(world, student)
    again = webhook(receiver_url, "enrollment.created", id=again_id)
    assert finished(eduhook_settings, again)[0].status == "succeeded"
    [second_learner] = world.calls(world.pennfoster, LEARNERS)[-1]["body"]
    assert second_learner["learner_info"]["alternate_id"] == f"eduframe:acme:{student}"
    assert second_learner["addressbook_info"] == {"learner_id": int(at_pennfoster["learner_id"])}
    assert second_learner["transaction_guid"] != first_learner["transaction_guid"]
    # One learner at Penn Foster, enrolled in the program a second time.
    learners = httpx.get(world.pennfoster + "/_sandbox/state").json()["learners"]
    [same] = [learner for learner in learners if learner["alternate_id"] == f"eduframe:acme:{student}"]
    assert same["learner_id"] == at_pennfoster["learner_id"]
    assert [e["program_id"] for e in same["enrollments"]].count(PROGRAM) == 2
    assert bulk_calls(world, "enroll")[-1] == [email]
    assert username in enrolled_at_appsembler(world, COURSE_KEY)

    # Every old event once more changes nothing: not the order, not the cancellation, not the new one.
    before = partner_calls(world)
    for event_id in (order_event, cancel_event, again):
        rerun(eduhook_settings, event_id)
    results = {e.id: e for e in finished(eduhook_settings, order_event, cancel_event, again)}
    assert results[cancel_event].status_reason == "no matching effect"
    assert partner_calls(world) == before
    assert len(bulk_calls(world, "enroll")) == 2 and len(world.calls(world.pennfoster, LEARNERS)) == 2

    # Both commands list the learner's generations: cancelled by the cancellation, then made again.
    shown = orjson.loads(eduhook(eduhook_settings, "events", "show", order_event))
    learner_key = f"pennfoster:learner:acme:{student}:{PROGRAM}"
    [history] = [e["generations"] for e in shown["effects"] if e["key"] == learner_key]
    assert [(g["generation"], g["state"], g["event_id"]) for g in history] == [
        (1, "cancelled", order_event),
        (2, "done", again),
    ]
    assert history[0]["cancellation"]["event_id"] == cancel_event
    assert history[0]["result"]["student_id"] == at_pennfoster["learner_id"]
    dlq = eduhook(eduhook_settings, "dlq", "show", order_event)
    assert (
        f"generation 1: cancelled event {order_event}" in dlq
        and f"generation 2: done      event {again}" in dlq
    )
    assert "example.com" not in dlq and "example.com" not in str(shown["effects"])


def test_a_transfer_undoes_the_old_target_enrolls_the_new_and_leaves_the_shared_one(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker()
    assert (
        finished(eduhook_settings, webhook(receiver_url, "order.approved", id=world.small_order_id))[0].status
        == "succeeded"
    )
    enrollment_id = world.enrollments_of(world.small_order_id)[0]
    student = world.seed.records["enrollments"][enrollment_id]["student_id"]
    email, username = world.seed.records["users"][student]["email"], appsembler_username("acme", student)

    moved = httpx.post(f"{world.eduframe}/_sandbox/enrollments/{enrollment_id}/transfer",
                       json={"planned_course_id": PLUS_PLANNED})  # fmt: skip
    assert moved.status_code == 200
    [transfer] = finished(eduhook_settings, webhook(receiver_url, "enrollment.updated", id=enrollment_id))
    assert transfer.status == "succeeded", transfer.last_error
    assert bulk_calls(world, "unenroll") == [[email]]
    assert username not in enrolled_at_appsembler(world, COURSE_KEY)
    assert username in enrolled_at_appsembler(world, PLUS_KEY)
    # Penn Foster, the program both courses send to, is left alone.
    assert world.calls(world.pennfoster, LEARNERS + "/cancel") == []
    assert len(world.calls(world.pennfoster, LEARNERS)) == 1

    # The same update delivered again: nothing to change.
    before = partner_calls(world)
    [same] = finished(
        eduhook_settings, webhook(receiver_url, "enrollment.updated", id=enrollment_id, again=1)
    )
    assert (same.status, same.status_reason) == (
        "ignored",
        f"enrollment {enrollment_id} is confirmed; nothing to change",
    )
    assert partner_calls(world) == before

    # Moved back: the first course's enrollment is made again, the second undone.
    httpx.post(f"{world.eduframe}/_sandbox/enrollments/{enrollment_id}/transfer",
               json={"planned_course_id": NURSING_PLANNED})  # fmt: skip
    [back] = finished(eduhook_settings, webhook(receiver_url, "enrollment.updated", id=enrollment_id, back=1))
    assert back.status == "succeeded", back.last_error
    assert username in enrolled_at_appsembler(world, COURSE_KEY)
    assert username not in enrolled_at_appsembler(world, PLUS_KEY)
    assert world.calls(world.pennfoster, LEARNERS + "/cancel") == []


def test_a_forged_deletion_naming_another_student_calls_no_partner(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker()
    assert (
        finished(eduhook_settings, webhook(receiver_url, "order.approved", id=world.small_order_id))[0].status
        == "succeeded"
    )
    victim = world.seed.records["enrollments"][world.enrollments_of(world.small_order_id)[0]]["student_id"]
    before = partner_calls(world)
    # An enrollment id Eduframe never had, naming the victim and the victim's course…
    forged = webhook(receiver_url, "enrollment.deleted", id=999_999, student_id=victim,
                     planned_course_id=NURSING_PLANNED)  # fmt: skip
    # …and one that also names the victim's order, which did make the victim's effects.
    with_order = webhook(receiver_url, "enrollment.deleted", id=999_998, student_id=victim,
                         planned_course_id=NURSING_PLANNED, order_id=world.small_order_id)  # fmt: skip
    no_match, still_enrolled = finished(eduhook_settings, forged, with_order)
    assert (no_match.status, no_match.status_reason) == ("ignored", "no matching effect")
    assert (still_enrolled.status, still_enrolled.status_reason) == ("ignored", "student still enrolled")
    assert partner_calls(world) == before
    assert appsembler_username("acme", victim) in enrolled_at_appsembler(world, COURSE_KEY)


def test_events_about_records_eduframe_no_longer_has(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker()
    gone_enrollment, gone_order = finished(
        eduhook_settings,
        webhook(receiver_url, "enrollment.created", id=70007),
        webhook(receiver_url, "order.approved", id=5999),
    )
    assert (gone_enrollment.status, gone_enrollment.status_reason, gone_enrollment.attempts) == (
        "ignored", "enrollment 70007 no longer exists in Eduframe", 1,
    )  # fmt: skip
    assert (gone_order.status, gone_order.status_reason) == (
        "ignored",
        "order 5999 no longer exists in Eduframe",
    )
    assert gone_enrollment.last_error is None and gone_order.last_error is None

    early, late = add_student(world, world.students[0], 1901), add_student(world, world.students[1], 1902)
    # Deleted after its creation was processed: enrolled, then undone.
    created = add_enrollment(world, early)
    assert (
        finished(eduhook_settings, webhook(receiver_url, "enrollment.created", id=created))[0].status
        == "succeeded"
    )
    assert appsembler_username("acme", early) in enrolled_at_appsembler(world, COURSE_KEY)
    record = httpx.delete(f"{world.eduframe}/_sandbox/records/enrollments/{created}").json()
    [deleted] = finished(eduhook_settings, webhook(receiver_url, "enrollment.deleted", **record))
    assert deleted.status == "succeeded", deleted.last_error
    assert appsembler_username("acme", early) not in enrolled_at_appsembler(world, COURSE_KEY)
    [cancel] = world.calls(world.pennfoster, LEARNERS + "/cancel")
    assert cancel["body"]["program_id"] == PROGRAM

    # Deleted before its creation was processed: the deletion finds nothing, the creation is gone.
    before = partner_calls(world)
    created = add_enrollment(world, late)
    record = httpx.delete(f"{world.eduframe}/_sandbox/records/enrollments/{created}").json()
    [deleted] = finished(eduhook_settings, webhook(receiver_url, "enrollment.deleted", **record))
    [creation] = finished(eduhook_settings, webhook(receiver_url, "enrollment.created", id=created))
    assert (deleted.status, deleted.status_reason) == ("ignored", "no matching effect")
    assert (creation.status, creation.status_reason) == (
        "ignored",
        f"enrollment {created} no longer exists in Eduframe",
    )
    assert partner_calls(world) == before
    assert appsembler_username("acme", late) not in enrolled_at_appsembler(world, COURSE_KEY)
