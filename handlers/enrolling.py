"""Enrolling Eduframe students at the route's partners, each learner exactly once.

Every partner effect is claimed in the ledger first (see ``handlers.effects``); only claimed
effects are sent, so retries, redeliveries and overlapping events (an order and its per-student
enrollments) never enroll anyone twice. Students whose effects are all done are not even read.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eduhook.ledger import EventRecord
from handlers.bulk import APPSEMBLER, chunks, run_bulk
from handlers.effects import EffectKey
from handlers.errors import AlreadyDoneError, EduhookError, PartnerDataError
from handlers.mapping import appsembler_account, learner_request
from handlers.outcomes import Problems, stops_everything
from handlers.partners.eduframe.models import User
from handlers.partners.pennfoster import MAX_BATCH, classify_result
from handlers.routes import AppsemblerTarget, PennFosterTarget, Route
from handlers.services import Services

PENNFOSTER = "pennfoster"


@dataclass
class EnrollmentRun:
    """One event's enrollment of ``user_ids`` on ``route``; users are read at most once each."""

    services: Services
    event: EventRecord
    route: Route
    user_ids: Sequence[int]
    problems: Problems = field(default_factory=Problems)
    done: int = 0
    _users: dict[int, User] = field(default_factory=dict)

    @property
    def educator(self) -> str:
        return self.event.educator

    def user(self, user_id: int) -> User:
        if user_id not in self._users:
            self._users[user_id] = self.services.user(user_id)
        return self._users[user_id]

    def run(self) -> None:
        learner, apps = self.route.penn_foster, self.route.appsembler
        users = [str(u) for u in self.user_ids]
        keys = (
            [EffectKey(PENNFOSTER, "learner", self.educator, u, learner.program_id) for u in users]
            if learner
            else []
        )
        if apps is not None:
            if apps.create_accounts:
                keys += [EffectKey(APPSEMBLER, "account", self.educator, u, "-") for u in users]
            keys += [
                EffectKey(APPSEMBLER, "enroll", self.educator, u, c) for u in users for c in apps.course_ids
            ]
        # One claim for every effect of the event: one transaction, and one wait for other workers.
        claims = self.services.effects.claim_waiting(keys, event_id=self.event.id)
        self.done += sum(1 for key in claims.done if key.action != "account")

        def mine(action: str) -> list[EffectKey]:
            return [key for key in claims.mine if key.action == action]

        if learner is not None:
            self.pennfoster_learners(learner, mine("learner"), claims.owner)
        if apps is not None:
            self.appsembler_accounts(mine("account"), claims.owner)
            self.appsembler(apps, mine("enroll"), claims.owner)
        self.problems.raise_if_any(self.done)

    # Penn Foster -------------------------------------------------------------------------------

    def pennfoster_learners(self, target: PennFosterTarget, claimed: list[EffectKey], owner: str) -> None:
        store = self.services.effects
        requests = []
        for key in claimed:
            try:
                requests.append(
                    (
                        key,
                        learner_request(
                            self.user(int(key.subject)),
                            target,
                            educator=self.educator,
                            effect_key=str(key),
                            fields=self.services.user_fields,
                        ),
                    )
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


Enroll = Callable[[Services, EventRecord, Route, Sequence[int]], None]


def enroll(services: Services, event: EventRecord, route: Route, user_ids: Sequence[int]) -> None:
    """Enroll the users at every target of ``route``; raises one error summarising any failures."""
    EnrollmentRun(services, event, route, list(dict.fromkeys(user_ids))).run()
