"""Undoing what eduhook created: Penn Foster cancel requests and Appsembler unenrollments.

Only effects recorded as done in the ledger are undone, and the caller picks them by their
provenance (the order or enrollment that made them), so nothing eduhook did not create is touched.
Each undo is itself an effect, at the generation of what it undoes: it happens once, and once done
the effect it undid is ``cancelled``, which lets a later enrollment make it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from eduhook.ledger import EventRecord
from handlers.bulk import APPSEMBLER, run_bulk
from handlers.effects import Claims, EffectKey, EffectRecord, Source
from handlers.enrolling import PENNFOSTER
from handlers.errors import EduhookError, PermanentError
from handlers.mapping import appsembler_account
from handlers.outcomes import Problems
from handlers.partners.pennfoster import CancelRequest
from handlers.routes import PennFosterTarget, Route
from handlers.services import Services

# The effects a cancellation undoes, and the action that undoes each. Accounts stay.
UNDO_ACTIONS = {(PENNFOSTER, "learner"): "cancel", (APPSEMBLER, "enroll"): "unenroll"}


def undoable(effect: EffectRecord) -> bool:
    return (effect.key.partner, effect.key.action) in UNDO_ACTIONS


def undo_key(effect: EffectRecord) -> EffectKey:
    key = effect.key
    return EffectKey(
        key.partner, UNDO_ACTIONS[key.partner, key.action], key.educator, key.subject, key.target
    )


@dataclass
class CancellationRun:
    services: Services
    event: EventRecord
    effects: Sequence[EffectRecord]
    source: Source
    route: Route | None = None  # the route the effects were made on, when the caller knows it
    problems: Problems = field(default_factory=Problems)
    done: int = 0

    @property
    def educator(self) -> str:
        return self.event.educator

    def run(self) -> int:
        """Undo; returns how many effects were (or had been) undone."""
        learners = [e for e in self.effects if (e.key.partner, e.key.action) == (PENNFOSTER, "learner")]
        enrollments = [e for e in self.effects if (e.key.partner, e.key.action) == (APPSEMBLER, "enroll")]
        if learners:
            self.pennfoster(learners)
        if enrollments:
            self.appsembler(enrollments)
        self.problems.raise_if_any(self.done)
        return self.done

    def claim(self, created: Sequence[EffectRecord]) -> tuple[dict[EffectKey, EffectRecord], Claims]:
        """Claim the undo of each effect; returns the effect behind each undo key, and the claims."""
        behind = {undo_key(effect): effect for effect in created}
        claims = self.services.effects.claim_waiting(
            list(behind),
            event_id=self.event.id,
            source=self.source,
            undoes={key: (effect.key, effect.generation) for key, effect in behind.items()},
        )
        self.done += len(claims.done)
        return behind, claims

    def pennfoster_target(self, program_id: str) -> PennFosterTarget | None:
        """The organization a program's learners were created under: the caller's route's when it
        sends to the program, else the first route that does."""
        routes = [self.route] if self.route is not None else []
        routes += self.services.routes.routes
        found = (r.penn_foster for r in routes if r.penn_foster and r.penn_foster.program_id == program_id)
        return next(found, None)

    def pennfoster(self, created: Sequence[EffectRecord]) -> None:
        store = self.services.effects
        targets = {e.key.target: self.pennfoster_target(e.key.target) for e in created}
        for effect in created:
            if targets[effect.key.target] is None:
                self.problems.add(
                    PermanentError(
                        f"cannot undo {effect.key}: no route sends to its Penn Foster program",
                        partner=PENNFOSTER,
                    )
                )
        behind, claims = self.claim([e for e in created if targets[e.key.target] is not None])
        owner = claims.owner
        for key in claims.mine:
            learner, target = behind[key].result or {}, targets[key.target]
            assert target is not None
            try:
                request = CancelRequest(
                    organization_id=target.organization_id, location_id=target.location_id,
                    client_id=target.client_id, student_id=learner.get("student_id"),
                    alternate_id=None if learner.get("student_id") else learner.get("alternate_id"),
                    program_id=target.program_id,
                )  # fmt: skip
            except ValueError:
                error = PermanentError(f"cancel for Eduframe user {key.subject}: no Penn Foster id recorded")
                store.fail(key, owner, str(error))
                self.problems.add(error)
                continue
            try:
                receipt = self.services.pennfoster.cancel_learner(request)
            except EduhookError as error:
                store.fail(key, owner, str(error))
                self.problems.add(error)
                continue
            store.complete(key, owner, {"resource_id": receipt.resource_id})
            self.done += 1

    def appsembler(self, created: Sequence[EffectRecord]) -> None:
        """Unenrollment needs no settings beyond the course key, which the effect's target is."""
        _, claims = self.claim(created)
        self.done += run_bulk(
            claims.mine,
            owner=claims.owner,
            store=self.services.effects,
            problems=self.problems,
            identifier=lambda user_id: (
                appsembler_account(self.services.user(user_id), educator=self.educator).email
            ),
            call=lambda people, courses: self.services.appsembler.bulk_unenroll(people, courses),
            record=lambda key, item: {"course": key.target},
            what="unenroll",
        )


def cancel(
    services: Services,
    event: EventRecord,
    effects: Sequence[EffectRecord],
    source: Source,
    *,
    route: Route | None = None,
) -> int:
    """Undo these done effects for ``source`` (what in Eduframe undid them); ``route`` is the one
    they were made on when known. Returns the number undone now or before."""
    return CancellationRun(services, event, effects, source, route).run()
