"""Enrolling Eduframe students at the route's partners, each learner exactly once per generation.

Every partner effect is claimed in the ledger first (see ``handlers.effects``); only claimed
effects are sent, so retries, redeliveries and overlapping events (an order and its per-student
enrollments) never enroll anyone twice. Students whose effects are all done are not even read.
A student whose enrollment was cancelled is enrolled again by a later enrollment or order: the
effect's next generation, sent as a re-enrollment of the learner the partner already has.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from eduhook.ledger import EventRecord
from handlers.bulk import APPSEMBLER, chunks, run_bulk
from handlers.effects import Claims, EffectKey, Source, effect_id
from handlers.errors import AlreadyDoneError, EduhookError, PartnerDataError
from handlers.mapping import appsembler_account, learner_request
from handlers.outcomes import Problems, stops_everything
from handlers.partners.eduframe.models import User
from handlers.partners.pennfoster import MAX_BATCH, classify_result
from handlers.partners.pennfoster.learner_request import AddressbookInfo
from handlers.registry import HandlerResult
from handlers.routes import AppsemblerTarget, PennFosterTarget, Route
from handlers.services import Services

PENNFOSTER = "pennfoster"


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
            self._users[user_id] = self.services.eduframe.get_user(user_id)
        return self._users[user_id]

    def run(self) -> EnrollmentOutcome:
        learner, apps = self.route.penn_foster, self.route.appsembler
        keys = planned_keys(self.route, self.educator, self.user_ids)
        # One claim for every effect of the event: one transaction, and one wait for other workers.
        claims = self.services.effects.claim_waiting(keys, event_id=self.event.id, source=self.source)
        already = sum(1 for key in claims.done if key.action != "account")
        self.done += already
        self.claims = claims

        def mine(action: str) -> list[EffectKey]:
            return [key for key in claims.mine if key.action == action]

        if learner is not None:
            self.pennfoster_learners(learner, mine("learner"), claims.owner)
        if apps is not None:
            self.appsembler_accounts(mine("account"), claims.owner)
            self.appsembler(apps, mine("enroll"), claims.owner)
        self.problems.raise_if_any(self.done)
        return EnrollmentOutcome(done=self.done, already=already, cancelled=len(claims.cancelled))

    def reenrolling(self, key: EffectKey) -> AddressbookInfo | None:
        """For a learner made again after a cancellation: the Penn Foster student id to re-enroll."""
        student_id = str(self.claims.previous.get(key, {}).get("student_id") or "")
        if not student_id.isdigit():
            return None
        try:
            return AddressbookInfo(learner_id=int(student_id))
        except ValidationError as exc:
            raise PartnerDataError(
                f"learner for Eduframe user {key.subject}: the student id recorded is not a Penn Foster id",
                partner=PENNFOSTER,
            ) from exc

    # Penn Foster -------------------------------------------------------------------------------

    def pennfoster_learners(self, target: PennFosterTarget, claimed: list[EffectKey], owner: str) -> None:
        store = self.services.effects
        requests = []
        for key in claimed:
            try:
                request = learner_request(
                    self.user(int(key.subject)),
                    target,
                    educator=self.educator,
                    effect_key=effect_id(key, self.claims.generation[key]),
                    fields=self.services.user_fields,
                )
                book = self.reenrolling(key)
                requests.append(
                    (key, request.model_copy(update={"addressbook_info": book}) if book else request)
                )
            except EduhookError as error:
                store.fail(key, owner, str(error))
                self.problems.add(error)
        batches = list(chunks(requests, MAX_BATCH))
        for number, batch in enumerate(batches):
            try:
                results = self.services.pennfoster.create_learners([request for _, request in batch])
                if len(results) != len(batch):
                    raise PartnerDataError(
                        f"learners: {len(results)} results for {len(batch)} learners", partner=PENNFOSTER
                    )
            except EduhookError as error:
                store.settle(owner, failed={key: str(error) for key, _ in batch})
                self.problems.add(error)
                if stops_everything(error):
                    store.release([key for later in batches[number + 1 :] for key, _ in later], owner)
                    return
                continue  # the other batches are independent; a retry sends only what failed
            done: dict[EffectKey, dict[str, Any]] = {}
            failed: dict[EffectKey, str] = {}
            for (key, request), result in zip(batch, results, strict=True):
                outcome = classify_result(result, what=f"learner for Eduframe user {key.subject}")
                if outcome.kind in ("succeeded", "already_done"):
                    done[key] = {
                        "student_id": result.student_id,
                        "order_number": result.order_number,
                        "reference_id": result.reference_id,
                        "alternate_id": request.learner_info.alternate_id,
                        "already_existed": outcome.kind == "already_done",
                    }
                else:
                    assert outcome.error is not None
                    failed[key] = str(outcome.error)
                    self.problems.add(outcome.error)
            store.settle(owner, done=done, failed=failed)
            self.done += len(done)

    # Appsembler --------------------------------------------------------------------------------

    def appsembler(self, target: AppsemblerTarget, claimed: list[EffectKey], owner: str) -> None:
        store = self.services.effects
        self.done += run_bulk(
            claimed,
            owner=owner,
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

    def appsembler_accounts(self, claimed: list[EffectKey], owner: str) -> None:
        store = self.services.effects
        for key in claimed:
            try:
                account = appsembler_account(self.user(int(key.subject)), educator=self.educator)
                try:
                    user_id = self.services.appsembler.create_account(
                        account.username, secrets.token_urlsafe(24), account.email, account.name
                    )
                    store.complete(key, owner, {"username": account.username, "user_id": user_id})
                except AlreadyDoneError:
                    store.complete(key, owner, {"username": account.username, "already_existed": True})
            except EduhookError as error:
                store.fail(key, owner, str(error))
                self.problems.add(error)
                if stops_everything(error):
                    store.release(claimed[claimed.index(key) + 1 :], owner)
                    return


def enroll(
    services: Services, event: EventRecord, route: Route, user_ids: Sequence[int], source: Source
) -> EnrollmentOutcome:
    """Enroll the users at every target of ``route`` for ``source`` (the order or enrollment the
    event is about); raises one error summarising any failures."""
    return EnrollmentRun(services, event, route, list(dict.fromkeys(user_ids)), source).run()
