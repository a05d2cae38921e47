"""StudyAbroad101 sandbox data: the records from the partner's documentation and builders for more."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

DEFAULT_API_USER = "sample-provider-1"
DEFAULT_API_KEY = "sandbox-studyabroad101-key"
DEFAULT_USERS = {DEFAULT_API_USER: DEFAULT_API_KEY}

_DOC_DAY = date(2015, 9, 23)
_DOC_FILTERED_DAY = date(2015, 8, 24)


def sample_lead(lead_id: int, program_id: int, created: date, lead_type: str = "Info") -> dict[str, Any]:
    """A lead shaped exactly like the documentation's examples (synthetic, not personal, values)."""
    return {
        "id": lead_id,
        "email": f"Sample Lead Email {lead_id}",
        "name": f"Sample Lead Name {lead_id}",
        "university": f"Sample University {lead_id}",
        "comment": None,
        "address": "",
        "study_period": f"Sample Study Period {lead_id}",
        "program_id": program_id,
        "program_name": f"Sample Program {program_id}",
        "program_link": f"http://example.org/programs/sample-program-{program_id}",
        "created_at_string": created.strftime("%m/%d/%Y"),
        "catalog_requested": "No",
        "phone_call_requested": "No",
        "phone_number": "",
        "lead_type": lead_type,
    }


def sample_review(review_id: int, program_id: int, created: date, rating: float = 4.5) -> dict[str, Any]:
    """A review shaped exactly like the documentation's examples."""
    return {
        "id": review_id,
        "university_name": f"Sample University {review_id}",
        "title": f"Sample Review {review_id}",
        "start_date": None,
        "end_date": None,
        "return_again": None,
        "knowledge_gained": None,
        "program_id": program_id,
        "program_name": f"Sample Program {program_id}",
        "program_link": f"http://example.org/programs/sample-program-{program_id}",
        "created_at_string": created.strftime("%m/%d/%Y"),
        "rating": rating,
        "admin_rating": None,
    }


def build_leads(
    count: int,
    *,
    start_id: int = 1,
    program_ids: Sequence[int] = (1,),
    first_day: date = _DOC_DAY,
    days_apart: int = 0,
) -> list[dict[str, Any]]:
    """``count`` leads with consecutive ids, cycling ``program_ids``, created ``days_apart`` days apart.

    Lead types alternate Info, Application, so both kinds are always present.
    """
    return [
        sample_lead(
            start_id + i,
            program_ids[i % len(program_ids)],
            first_day + timedelta(days=i * days_apart),
            "Info" if i % 2 == 0 else "Application",
        )
        for i in range(count)
    ]


def spread_leads(
    count: int, *, days: int, first_day: date, start_id: int = 1, program_ids: Sequence[int] = (1,)
) -> list[dict[str, Any]]:
    """``count`` leads spread evenly over ``days`` consecutive days from ``first_day``: paging data."""
    if count < 0 or days < 1:
        raise ValueError("count must be at least 0 and days at least 1")
    return [
        sample_lead(
            start_id + i,
            program_ids[i % len(program_ids)],
            first_day + timedelta(days=i * days // max(count, 1)),
            "Info" if i % 2 == 0 else "Application",
        )
        for i in range(count)
    ]


def build_reviews(
    count: int,
    *,
    start_id: int = 1,
    program_ids: Sequence[int] = (1,),
    first_day: date = _DOC_DAY,
    days_apart: int = 0,
) -> list[dict[str, Any]]:
    """``count`` reviews built like ``build_leads``."""
    return [
        sample_review(
            start_id + i, program_ids[i % len(program_ids)], first_day + timedelta(days=i * days_apart)
        )
        for i in range(count)
    ]


def default_seed() -> dict[str, Any]:
    """The records shown in the partner's documentation, so its examples answer as documented."""
    leads = [
        sample_lead(1, 1, _DOC_DAY, "Info"),
        sample_lead(3, 1, _DOC_DAY, "Application"),
        sample_lead(7, 3, _DOC_FILTERED_DAY, "Application"),
        sample_lead(11, 7, _DOC_DAY, "Application"),
        sample_lead(14, 8, _DOC_DAY, "Info"),
        sample_lead(15, 8, _DOC_DAY, "Info"),
        sample_lead(16, 8, _DOC_DAY, "Info"),
        sample_lead(17, 8, _DOC_DAY, "Application"),
        sample_lead(20, 10, _DOC_DAY, "Info"),
    ]
    reviews = [
        sample_review(2, 13, _DOC_DAY),
        sample_review(4, 14, _DOC_FILTERED_DAY),
        sample_review(6, 16, _DOC_DAY),
        sample_review(8, 17, _DOC_DAY),
        sample_review(9, 17, _DOC_DAY),
        sample_review(10, 17, _DOC_DAY),
    ]
    # The documentation shows only an empty answer list; this answer's shape is the sandbox's own.
    answers = {"2": [{"id": 1, "question": "Would you go again?", "answer": "Yes"}]}
    return {"users": dict(DEFAULT_USERS), "leads": leads, "reviews": reviews, "answers": answers}
