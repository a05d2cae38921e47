"""Enrolling Eduframe students at the route's partners, each learner exactly once per generation.

Every partner effect is claimed in the ledger first (see ``handlers.effects``); only claimed
effects are sent, so retries, redeliveries and overlapping events (an order and its per-student
enrollments) never enroll anyone twice. Students whose effects are all done are not even read.
A student whose enrollment was cancelled is enrolled again by a later enrollment or order: the
effect's next generation, sent as a re-enrollment of the learner the partner already has.

- An effect whose last request may have reached the partner comes back in doubt, and the partner
  is asked whether it was done before anything is sent again.
- Penn Foster learners already known there (a second program) are sent with their student id
  (``handlers.partners.pennfoster.enrollment``).
- With ``create_accounts``, an Appsembler enrollment waits for its learner's account: it is sent
  only once the account effect is done.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from eduhook.ledger import EventRecord
from handlers.bulk import APPSEMBLER, chunks, run_bulk
from handlers.effects import Claims, EffectKey, Source, effect_id
from handlers.errors import EduhookError, InDoubtError
from handlers.mapping import appsembler_account, learner_request
from handlers.outcomes import Problems, stops_everything
from handlers.partners.appsembler import ensure_account
from handlers.partners.eduframe.models import User
from handlers.partners.pennfoster import (
    MAX_BATCH,
    Enrolled,
    LearnerEnrollment,
    NotEnrolled,
    enroll_learners,
)
from handlers.registry import HandlerResult
from handlers.routes import AppsemblerTarget, PennFosterTarget, Route
from handlers.services import Services

PENNFOSTER = "pennfoster"
WAITS_FOR_ACCOUNT = "waits for the learner's Appsembler account"


def planned_keys(route: Route, educator: str, user_ids: Sequence[int]) -> list[EffectKey]:
    """Every effect that enrolling these users on ``route`` makes, in the order they are sent."""
    learner, apps = route.penn_foster, route.appsembler
    users = [str(u) for u in user_ids]
    keys = (
        [EffectKey(PENNFOSTER, "learner", educator, u, learner.program_id) for u in users] if learner else []
    )
    if apps is not None:
        if apps.create_accounts:
            keys += [EffectKey(APPSEMBLER, "account", educator, u, "-") for u in users]
        keys += [EffectKey(APPSEMBLER, "enroll", educator, u, c) for u in users for c in apps.course_ids]
    return keys


@dataclass(frozen=True)
class EnrollmentOutcome:
    """What one enrollment run found and did, for the handler's verdict."""

    done: int  # enrollments done, now or before
    already: int  # of which were done before
    cancelled: int  # enrollments cancelled for this very enrollment or order: not made again

    @property
    def sent(self) -> int:
        return self.done - self.already


def verdict(outcome: EnrollmentOutcome, what: str) -> HandlerResult:
    """Succeeded, unless all this event would enroll was cancelled for this very order or enrollment
    (a redelivery or replay of an event from before the cancellation)."""
    if outcome.done == 0 and outcome.cancelled:
        return HandlerResult.ignored(f"already cancelled for this {what}; a new enrollment enrolls again")
    return HandlerResult()


@dataclass
class EnrollmentRun:
    """One event's enrollment of ``user_ids`` on ``route``; users are read at most once each."""

    services: Services
    event: EventRecord
    route: Route
    user_ids: Sequence[int]
    source: Source
    problems: Problems = field(default_factory=Problems)
    done: int = 0
    claims: Claims = field(init=False)
    _users: dict[int, User] = field(default_factory=dict)

    @property
    def educator(self) -> str:
        return self.event.educator

    def user(self, user_id: int) -> User:
        if user_id not in self._users:
            self._users[user_id] = self.services.user(user_id)
        return self._users[user_id]

    def run(self) -> EnrollmentOutcome:
        learner, apps = self.route.penn_foster, self.route.appsembler
        keys = planned_keys(self.route, self.educator, self.user_ids)
        # One claim for every effect of the event: one transaction, and one wait for other workers.
        claims = self.services.effects.claim_waiting(keys, event_id=self.event.id, source=self.source)
        already = sum(1 for key in claims.done if key.action != "account")
        self.done += already
        self.claims = claims
        if learner is not None:
            self.pennfoster_learners(learner, claims)
        if apps is not None:
            accounts = self.appsembler_accounts(claims) if apps.create_accounts else None
            self.appsembler(apps, claims, accounts)
        self.problems.raise_if_any(self.done)
        return EnrollmentOutcome(done=self.done, already=already, cancelled=len(claims.cancelled))

    def reenrolling(self, key: EffectKey) -> str | None:
        """For a learner made again after a cancellation: the Penn Foster student id the cancelled
        generation recorded, so the new one goes as a re-enrollment of the learner it already has."""
        student_id = str(self.claims.previous.get(key, {}).get("student_id") or "")
        return student_id if student_id.isdigit() else None

    def failed(self, claims: Claims, key: EffectKey, error: EduhookError, *, in_doubt: bool) -> None:
        """Record one effect's failure, in doubt when the partner may have done it all the same."""
        store = self.services.effects
        if in_doubt:
            store.settle(claims.owner, in_doubt={key: str(error)})
        else:
            store.fail(key, claims.owner, str(error))
        self.problems.add(error)

    # Penn Foster -------------------------------------------------------------------------------

    def pennfoster_learners(self, target: PennFosterTarget, claims: Claims) -> None:
        """Enroll the claimed learners in batches; a configuration error stops the later batches."""
        store = self.services.effects
        learners = self.learner_enrollments(target, claims)
        batches = list(chunks(learners, MAX_BATCH))
        for number, batch in enumerate(batches):
            outcomes = enroll_learners(self.services.pennfoster, [learner for _, learner in batch])
            done: dict[EffectKey, dict[str, Any]] = {}
            failed: dict[EffectKey, str] = {}
            doubtful: dict[EffectKey, str] = {}
            for (key, learner), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Enrolled):
                    done[key] = learner_record(learner, outcome)
                else:
                    (doubtful if outcome.in_doubt else failed)[key] = str(outcome.error)
                    self.problems.add(outcome.error)
            store.settle(claims.owner, done=done, failed=failed, in_doubt=doubtful)
            self.done += len(done)
            if any(isinstance(o, NotEnrolled) and stops_everything(o.error) for o in outcomes):
                later = [key for rest in batches[number + 1 :] for key, _ in rest]
                store.release(later, claims.owner, in_doubt=claims.in_doubt)
                return

    def learner_enrollments(
        self, target: PennFosterTarget, claims: Claims
    ) -> list[tuple[EffectKey, LearnerEnrollment]]:
        """The claimed learners as Penn Foster requests, with the student ids eduhook has for them;
        those in doubt are marked to be looked up before anything is sent. A learner whose request
        cannot be built fails on its own."""
        claimed = mine(claims, "learner")
        student_ids = self.known_student_ids([key.subject for key in claimed])
        learners: list[tuple[EffectKey, LearnerEnrollment]] = []
        for key in claimed:
            try:
                request = learner_request(
                    self.user(int(key.subject)),
                    target,
                    educator=self.educator,
                    effect_key=effect_id(key, claims.generation[key]),
                    fields=self.services.user_fields,
                )
            except EduhookError as error:
                self.failed(claims, key, error, in_doubt=key in claims.in_doubt)
                continue
            enrollment = LearnerEnrollment(
                request,
                student_id=self.reenrolling(key) or student_ids.get(key.subject),
                check_first=key in claims.in_doubt,
                what=f"learner for Eduframe user {key.subject}",
            )
            learners.append((key, enrollment))
        return learners

    def known_student_ids(self, subjects: Collection[str]) -> dict[str, str]:
        """Penn Foster student ids eduhook recorded for these Eduframe users (any program): such a
        learner exists at Penn Foster, and a further program is sent with its id."""
        found = self.services.effects.done_for(
            partner=PENNFOSTER, action="learner", educator=self.educator, subjects=subjects
        )
        return {
            subject: str(result["student_id"])
            for subject, effects in found.items()
            for _, result in effects
            if result.get("student_id")
        }

    # Appsembler --------------------------------------------------------------------------------

    def appsembler_accounts(self, claims: Claims) -> set[str]:
        """Create the claimed accounts; returns the Eduframe users whose account is done, now or
        before (the only ones whose enrollments may be sent)."""
        store = self.services.effects
        ready = {key.subject for key in claims.done if key.action == "account"}
        claimed = mine(claims, "account")
        for index, key in enumerate(claimed):
            doubtful = key in claims.in_doubt
            try:
                account = appsembler_account(self.user(int(key.subject)), educator=self.educator)
                outcome = ensure_account(
                    self.services.appsembler,
                    account.username,
                    account.email,
                    account.name,
                    look_first=doubtful,
                )
            except EduhookError as error:
                self.failed(claims, key, error, in_doubt=doubtful or isinstance(error, InDoubtError))
                if stops_everything(error):
                    store.release(claimed[index + 1 :], claims.owner, in_doubt=claims.in_doubt)
                    break
                continue
            result: dict[str, Any] = {
                "username": outcome.username,
                "already_existed": outcome.already_existed,
            }
            if outcome.user_id is not None:
                result["user_id"] = outcome.user_id
            store.complete(key, claims.owner, result)
            ready.add(key.subject)
        return ready

    def appsembler(self, target: AppsemblerTarget, claims: Claims, accounts: set[str] | None) -> None:
        """Bulk-enroll the claimed enrollments; with ``accounts`` given, only those of learners
        whose account is done. The rest go back unsent, to be tried with their account."""
        store = self.services.effects
        claimed = mine(claims, "enroll")
        if accounts is not None:
            waiting = [key for key in claimed if key.subject not in accounts]
            store.release(waiting, claims.owner, in_doubt=claims.in_doubt, reason=WAITS_FOR_ACCOUNT)
            claimed = [key for key in claimed if key.subject in accounts]
        self.done += run_bulk(
            claimed,
            owner=claims.owner,
            store=store,
            problems=self.problems,
            identifier=lambda user_id: appsembler_account(self.user(user_id), educator=self.educator).email,
            call=lambda people, courses: self.services.appsembler.bulk_enroll(
                people, courses, auto_enroll=target.auto_enroll, email_students=target.email_students
            ),
            record=lambda key, item: {
                "course": key.target,
                "enrolled": item.enrolled,
                "allowed": item.allowed,
            },
            what="bulk enroll",
        )


def mine(claims: Claims, action: str) -> list[EffectKey]:
    """The claimed keys of one action, in claim order."""
    return [key for key in claims.mine if key.action == action]


def learner_record(learner: LearnerEnrollment, outcome: Enrolled) -> dict[str, Any]:
    """What the ledger keeps of a Penn Foster enrollment: the ids a cancellation needs."""
    return {
        "student_id": outcome.student_id,
        "order_number": outcome.order_number,
        "reference_id": outcome.reference_id,
        "alternate_id": learner.request.alternate_id,
        "already_existed": outcome.already_there,
        "existing_learner": outcome.existing_learner,
    }


def enroll(
    services: Services, event: EventRecord, route: Route, user_ids: Sequence[int], source: Source
) -> EnrollmentOutcome:
    """Enroll the users at every target of ``route`` for ``source`` (the order or enrollment the
    event is about); raises one error summarising any failures."""
    return EnrollmentRun(services, event, route, list(dict.fromkeys(user_ids)), source).run()
