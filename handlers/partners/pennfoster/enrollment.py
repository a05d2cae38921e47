"""Enrolling learners at Penn Foster, some of whom Penn Foster may know already.

Penn Foster keys a learner on ``alternate_id`` (eduhook sends one per Eduframe user) and refuses a
second *new* learner under the same id with E608600001. A further program for a learner it knows
goes with ``addressbook_info.learner_id``, the learner's student id ("previous student id for
re-enrollment"). So, per learner:

- its student id is known (eduhook recorded it for another program or an earlier enrollment):
  it goes the way of ``enroll_existing_learners``, with that id;
- ``check_first`` (an earlier request may have reached Penn Foster): it is looked up by alternate
  id first. Held in this program: done. Known: sent with its student id. Unknown: sent as new;
- otherwise it is sent as new. E608600001 or E602500002 then say Penn Foster knows the learner,
  and it goes the way of ``enroll_existing_learners``: its student id is looked up, and the
  program is sent again with it.

E614400005 "product code already exists for student" is already done. Penn Foster *holds a learner
in a program* when a record under its alternate id has that program and is not canceled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from handlers.errors import EduhookError, InDoubtError, PartnerDataError, PermanentError, TransientError
from handlers.partners.pennfoster.client import PennFosterClient
from handlers.partners.pennfoster.error_map import PARTNER, ItemOutcome, classify_learner_result
from handlers.partners.pennfoster.learner_request import AddressbookInfo, LearnerRequest
from handlers.partners.pennfoster.responses import LearnerRecord, LearnerResult

STUDENT_ID_DIGITS = 8  # addressbook_info.learner_id: "int 8"


@dataclass(frozen=True)
class LearnerEnrollment:
    """One learner to enroll in its request's program."""

    request: LearnerRequest
    # Penn Foster's student id for this learner, when eduhook has one on record.
    student_id: str | None = None
    # An earlier request for this enrollment may have reached Penn Foster: look before sending.
    check_first: bool = False
    # How messages name the learner, by ids only: "learner for Eduframe user 1042".
    what: str = "learner"

    @property
    def program_id(self) -> str:
        return self.request.program_info.program_id


@dataclass(frozen=True)
class Enrolled:
    """Penn Foster holds the learner in the program."""

    student_id: str | None
    order_number: str | None = None
    reference_id: str | None = None
    # Sent with ``addressbook_info.learner_id``: the learner was at Penn Foster before.
    existing_learner: bool = False
    # Penn Foster held the program already (found by a lookup, or E614400005): nothing was created.
    already_there: bool = False


@dataclass(frozen=True)
class NotEnrolled:
    error: EduhookError
    # Penn Foster may hold the enrollment after all: the next attempt looks before it sends.
    in_doubt: bool = False


Outcome = Enrolled | NotEnrolled


def enroll_learners(client: PennFosterClient, learners: Sequence[LearnerEnrollment]) -> list[Outcome]:
    """Enroll at most ``MAX_BATCH`` learners; one outcome per learner, in order.

    Partner failures do not raise: each learner's outcome carries its own error, so a batch that
    half succeeded is recorded half done.
    """
    outcomes: dict[int, Outcome] = {}
    new: dict[int, LearnerEnrollment] = {}
    existing: dict[int, LearnerEnrollment] = {}
    for index, learner in enumerate(learners):
        if learner.check_first:
            found = _look_up(client, learner)
            if not isinstance(found, LearnerEnrollment):
                outcomes[index] = found
                continue
            learner = found
        (existing if learner.student_id else new)[index] = learner
    for index, answer in _send(client, new).items():
        if isinstance(answer, NotEnrolled):
            outcomes[index] = answer
            continue
        outcome = classify_learner_result(answer, what=new[index].what)
        if outcome.kind == "exists":
            existing[index] = new[index]
        else:
            outcomes[index] = _settled(new[index], answer, outcome)
    outcomes.update(enroll_existing_learners(client, existing))
    return [outcomes[index] for index in range(len(learners))]


def enroll_existing_learners(
    client: PennFosterClient, learners: Mapping[int, LearnerEnrollment]
) -> dict[int, Outcome]:
    """Enroll learners Penn Foster already has in a program: the way to Penn Foster for a second
    program and for a re-enrollment alike. Keys are the caller's, and come back with the outcomes.

    A learner without a ``student_id`` is looked up by alternate id to find it; one Penn Foster
    already holds in the program is then done without a call. The others are sent in one call
    with ``addressbook_info.learner_id``.
    """
    outcomes: dict[int, Outcome] = {}
    ready: dict[int, LearnerEnrollment] = {}
    for index, learner in learners.items():
        found = learner if learner.student_id else _look_up(client, learner, must_exist=True)
        if isinstance(found, LearnerEnrollment):
            ready[index] = found
        else:
            outcomes[index] = found
    for index, answer in _send(client, ready).items():
        if isinstance(answer, NotEnrolled):
            outcomes[index] = answer
        else:
            learner = ready[index]
            outcomes[index] = _settled(learner, answer, classify_learner_result(answer, what=learner.what))
    return outcomes


def holds(record: LearnerRecord, program_id: str) -> bool:
    """Whether ``record`` shows the learner in ``program_id`` (active, inactive or graduated)."""
    status = (record.active_status or "").strip().lower()
    return (record.program_id or "").strip() == program_id.strip() and not status.startswith("cancel")


def _look_up(
    client: PennFosterClient, learner: LearnerEnrollment, *, must_exist: bool = False
) -> LearnerEnrollment | Outcome:
    """Ask Penn Foster what it holds under the learner's alternate id. An outcome when that settles
    it (held in the program; the lookup failed), else the learner with the student id found."""
    try:
        records = client.find_learners_by_alternate_id(learner.request.alternate_id)
    except EduhookError as error:
        return NotEnrolled(error, in_doubt=learner.check_first)
    held = next((record for record in records if holds(record, learner.program_id)), None)
    if held is not None:
        student = held.student_id or learner.student_id
        return Enrolled(student, existing_learner=bool(learner.student_id), already_there=True)
    students = sorted({record.student_id for record in records if record.student_id})
    if len(students) > 1:
        # Two people at Penn Foster under one of eduhook's ids: a person must say which is right.
        problem = f"{learner.what}: {len(students)} Penn Foster students share its alternate id"
        return NotEnrolled(PartnerDataError(problem, partner=PARTNER))
    if not students and must_exist:
        return NotEnrolled(
            TransientError(
                f"{learner.what}: Penn Foster reports the learner exists,"
                " but finds no learner under its alternate id",
                partner=PARTNER,
            )
        )
    return replace(learner, student_id=students[0] if students else learner.student_id, check_first=False)


def _send(
    client: PennFosterClient, learners: Mapping[int, LearnerEnrollment]
) -> dict[int, LearnerResult | NotEnrolled]:
    """POST the learners in one call, each with its student id when it has one."""
    answers: dict[int, LearnerResult | NotEnrolled] = {}
    requests: dict[int, LearnerRequest] = {}
    for index, learner in learners.items():
        try:
            requests[index] = _request(learner)
        except EduhookError as error:
            answers[index] = NotEnrolled(error)
    if not requests:
        return answers
    try:
        results = client.create_learners(list(requests.values()))
    except EduhookError as error:
        failed = NotEnrolled(error, in_doubt=isinstance(error, InDoubtError))
        return answers | dict.fromkeys(requests, failed)
    return answers | dict(zip(requests, results, strict=True))


def _request(learner: LearnerEnrollment) -> LearnerRequest:
    """The request as sent: with ``addressbook_info.learner_id`` when the student id is known."""
    if not learner.student_id:
        return learner.request
    student = learner.student_id.strip()
    if not (student.isdigit() and len(student) <= STUDENT_ID_DIGITS):
        raise PartnerDataError(
            f"{learner.what}: the Penn Foster student id on record is not a number of at most"
            f" {STUDENT_ID_DIGITS} digits",
            partner=PARTNER,
        )
    return learner.request.model_copy(update={"addressbook_info": AddressbookInfo(learner_id=int(student))})


def _settled(learner: LearnerEnrollment, answer: LearnerResult, outcome: ItemOutcome) -> Outcome:
    """What Penn Foster's answer to a sent learner means."""
    existing = bool(learner.student_id)
    if outcome.kind == "succeeded":
        student = answer.student_id or learner.student_id
        return Enrolled(student, answer.order_number or None, answer.reference_id or None, existing)
    if outcome.kind == "already_done":
        return Enrolled(
            learner.student_id or answer.student_id or None, existing_learner=existing, already_there=True
        )
    assert outcome.error is not None
    if outcome.kind == "exists":
        # Sent with its student id and still refused as existing: Penn Foster's records of the
        # student id and of the alternate id disagree. A person must look.
        return NotEnrolled(
            PermanentError(
                f"{outcome.error.message}, though sent with the learner's student id",
                partner=PARTNER,
                partner_code=outcome.error.partner_code,
            )
        )
    # E999999001 "order is currently being processed": it may go through yet.
    return NotEnrolled(outcome.error, in_doubt=outcome.kind == "transient")
