"""StudyAbroad101: a read-only partner source of leads and reviews, polled with signed requests."""

from __future__ import annotations

from handlers.partners.studyabroad101.client import StudyAbroad101Client
from handlers.partners.studyabroad101.models import Lead, Review, ReviewAnswer

__all__ = ["Lead", "Review", "ReviewAnswer", "StudyAbroad101Client"]
