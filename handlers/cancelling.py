"""Undoing what eduhook created: Penn Foster cancel requests and Appsembler unenrollments.

Only effects recorded as done in the ledger are undone, so nothing eduhook did not create is
touched; each undo is itself an effect with its own key, so it happens once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from eduhook.ledger import EventRecord
from handlers.bulk import APPSEMBLER, run_bulk
from handlers.effects import EffectKey
from handlers.enrolling import PENNFOSTER
from handlers.errors import EduhookError, PermanentError
from handlers.mapping import appsembler_account
from handlers.outcomes import Problems
from handlers.partners.pennfoster import CancelRequest
from handlers.routes import AppsemblerTarget, PennFosterTarget, Route
from handlers.services import Services


@dataclass
class CancellationRun:
    services: Services
    event: EventRecord
    route: Route
    user_ids: Sequence[int]
    problems: Problems = field(default_factory=Problems)
    done: int = 0

    @property
    def educator(self) -> str:
        return self.event.educator

    def run(self) -> int:
        """Undo; returns how many effects were (or had been) undone."""
        if self.route.penn_foster is not None:
            self.pennfoster(self.route.penn_foster)
        if self.route.appsembler is not None:
            self.appsembler(self.route.appsembler)
        self.problems.raise_if_any(self.done)
        return self.done

    def pennfoster(self, target: PennFosterTarget) -> None:
        store = self.services.effects
        created = store.done_for(
            partner=PENNFOSTER,
            action="learner",
            educator=self.educator,
            subjects=[str(u) for u in self.user_ids],
        )
        learners = {
            subject: result
            for subject, found in created.items()
            for key, result in found
            if key.target == target.program_id
        }
        keys = [EffectKey(PENNFOSTER, "cancel", self.educator, s, target.program_id) for s in learners]
        claims = store.claim_waiting(keys, event_id=self.event.id)
        self.done += len(claims.done)
        for key in claims.mine:
            learner = learners[key.subject]
            try:
                request = CancelRequest(
                    organization_id=target.organization_id, location_id=target.location_id,
                    client_id=target.client_id, student_id=learner.get("student_id"),
                    alternate_id=None if learner.get("student_id") else learner.get("alternate_id"),
                    program_id=target.program_id,
                )  # fmt: skip
            except ValueError as exc:
                error = PermanentError(f"cancel for Eduframe user {key.subject}: no Penn Foster id recorded")
                store.fail(key, claims.owner, str(error))
                self.problems.add(error)
                del exc
                continue
            try:
                receipt = self.services.pennfoster.cancel_learner(request)
            except EduhookError as error:
                store.fail(key, claims.owner, str(error))
                self.problems.add(error)
                continue
            store.complete(key, claims.owner, {"resource_id": receipt.resource_id})
            self.done += 1

    def appsembler(self, target: AppsemblerTarget) -> None:
        store = self.services.effects
        created = store.done_for(
            partner=APPSEMBLER,
            action="enroll",
            educator=self.educator,
            subjects=[str(u) for u in self.user_ids],
        )
        pairs = [
            (subject, key.target)
            for subject, found in created.items()
            for key, _ in found
            if key.target in target.course_ids
        ]
        keys = [EffectKey(APPSEMBLER, "unenroll", self.educator, s, course) for s, course in pairs]
        claims = store.claim_waiting(keys, event_id=self.event.id)
        self.done += len(claims.done)
        self.done += run_bulk(
            claims.mine,
            owner=claims.owner,
            store=store,
            problems=self.problems,
            identifier=lambda user_id: (
                appsembler_account(self.services.eduframe.get_user(user_id), educator=self.educator).email
            ),
            call=lambda people, courses: self.services.appsembler.bulk_unenroll(people, courses),
            record=lambda key, item: {"course": key.target},
            what="unenroll",
        )


def cancel(services: Services, event: EventRecord, route: Route, user_ids: Sequence[int]) -> int:
    """Undo eduhook's own effects for these users on this route; returns the number undone."""
    return CancellationRun(services, event, route, list(dict.fromkeys(user_ids))).run()
