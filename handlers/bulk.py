"""Appsembler bulk (un)enrollment of claimed effects: one call per course set, results per learner."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from handlers.effects import EffectKey, EffectStore
from handlers.errors import EduhookError, PartnerDataError
from handlers.outcomes import Problems
from handlers.partners.appsembler.models import BulkEnrollmentResult, EnrollmentChange

T = TypeVar("T")
APPSEMBLER = "appsembler"
# Identifiers per bulk call: keeps request bodies and partner work bounded.
APPSEMBLER_BATCH = 100

BulkCall = Callable[[list[str], list[str]], BulkEnrollmentResult]


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def by_course_set(
    keys: Sequence[EffectKey],
) -> tuple[dict[tuple[str, ...], list[int]], dict[int, list[EffectKey]]]:
    """Users grouped by the exact set of courses they need, and each user's keys."""
    per_user: dict[int, list[EffectKey]] = defaultdict(list)
    for key in keys:
        per_user[int(key.subject)].append(key)
    groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for user_id, user_keys in per_user.items():
        groups[tuple(sorted(k.target for k in user_keys))].append(user_id)
    return groups, per_user


def run_bulk(
    keys: Sequence[EffectKey],
    *,
    owner: str,
    store: EffectStore,
    problems: Problems,
    identifier: Callable[[int], str],
    call: BulkCall,
    record: Callable[[EffectKey, EnrollmentChange], dict[str, Any]],
    what: str,
) -> int:
    """Send the claimed ``keys`` in as few bulk calls as possible; settle each key; return how many
    succeeded. A learner whose identifier cannot be built, or the whole call failing, fails its keys."""
    groups, per_user = by_course_set(keys)
    done = 0

    def fail(user_ids: Sequence[int], error: EduhookError) -> None:
        store.settle(owner, failed={key: str(error) for user_id in user_ids for key in per_user[user_id]})
        problems.add(error)

    for courses, user_ids in groups.items():
        for batch in chunks(user_ids, APPSEMBLER_BATCH):
            identifiers: dict[int, str] = {}
            for user_id in batch:
                try:
                    identifiers[user_id] = identifier(user_id)
                except EduhookError as error:
                    fail([user_id], error)
            if not identifiers:
                continue
            try:
                result = call(list(identifiers.values()), list(courses))
            except EduhookError as error:
                fail(list(identifiers), error)
                continue
            succeeded: dict[EffectKey, dict[str, Any]] = {}
            failed: dict[EffectKey, str] = {}
            for user_id, ident in identifiers.items():
                for key in per_user[user_id]:
                    item = result.result(key.target, ident)
                    if isinstance(item, EnrollmentChange):
                        succeeded[key] = record(key, item)
                        continue
                    kind = "no result" if item is None else type(item).__name__
                    problem = PartnerDataError(
                        f"{what} of Eduframe user {user_id} in {key.target}: {kind}", partner=APPSEMBLER
                    )
                    failed[key] = str(problem)
                    problems.add(problem)
            store.settle(owner, done=succeeded, failed=failed)
            done += len(succeeded)
    return done
