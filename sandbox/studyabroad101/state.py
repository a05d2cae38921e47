"""StudyAbroad101 sandbox state: registered API users, leads, reviews and answers, loaded from a seed."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sandbox.studyabroad101.seed import DEFAULT_USERS


def record_day(record: dict[str, Any]) -> date:
    """The creation day of a stored record, from its ``created_at_string`` (MM/DD/YYYY)."""
    return datetime.strptime(str(record["created_at_string"]), "%m/%d/%Y").date()


def _checked_record(kind: str, item: Any) -> tuple[int, dict[str, Any]]:
    if not isinstance(item, dict):
        raise ValueError(f"each of {kind} must be an object")
    if not isinstance(item.get("id"), int):
        raise ValueError(f"each of {kind} needs an integer id")
    try:
        record_day(item)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{kind} {item['id']}: created_at_string must be MM/DD/YYYY") from exc
    return item["id"], dict(item)


@dataclass
class StudyAbroad101State:
    """Everything the sandbox serves; records are kept in the partner's JSON shape."""

    users: dict[str, str] = field(default_factory=dict)
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    reviews: dict[int, dict[str, Any]] = field(default_factory=dict)
    answers: dict[int, list[dict[str, Any]]] = field(default_factory=dict)

    def load(self, seed: dict[str, Any]) -> None:
        """Add (or replace by id) what ``seed`` holds; validates everything before changing anything."""
        users = seed.get("users", {})
        if not isinstance(users, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k and v for k, v in users.items()
        ):
            raise ValueError("users must map API user names to API keys")
        leads = dict(_checked_record("leads", item) for item in _as_list(seed, "leads"))
        reviews = dict(_checked_record("reviews", item) for item in _as_list(seed, "reviews"))
        answers_in = seed.get("answers", {})
        if not isinstance(answers_in, dict):
            raise ValueError("answers must map review ids to lists of answers")
        answers: dict[int, list[dict[str, Any]]] = {}
        for review_id, items in answers_in.items():
            if not isinstance(items, list) or not all(isinstance(a, dict) for a in items):
                raise ValueError(f"answers of review {review_id} must be a list of objects")
            try:
                answers[int(review_id)] = [dict(a) for a in items]
            except ValueError as exc:
                raise ValueError(f"answers key {review_id!r} is not a review id") from exc
        self.users.update(users)
        self.leads.update(leads)
        self.reviews.update(reviews)
        self.answers.update(answers)

    def counts(self) -> dict[str, Any]:
        """What ``GET /_sandbox/state`` shows: counts and user names, never keys."""
        return {
            "users": sorted(self.users),
            "leads": len(self.leads),
            "reviews": len(self.reviews),
            "answers": sum(len(items) for items in self.answers.values()),
        }

    @classmethod
    def from_seed(cls, seed: dict[str, Any]) -> StudyAbroad101State:
        state = cls()
        seed = copy.deepcopy(seed)
        seed.setdefault("users", dict(DEFAULT_USERS))
        state.load(seed)
        return state


def _as_list(seed: dict[str, Any], key: str) -> list[Any]:
    items = seed.get(key, [])
    if not isinstance(items, list):
        raise ValueError(f"{key} must be a list")
    return items
