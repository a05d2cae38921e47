"""Appsembler (Open edX, Tahoe) partner: client, models, course-key checks and error mapping."""

from __future__ import annotations

from handlers.partners.appsembler.accounts import AccountOutcome, ensure_account
from handlers.partners.appsembler.auth import ClientCredentials, StaticToken, TokenSource
from handlers.partners.appsembler.client import AppsemblerClient
from handlers.partners.appsembler.course_keys import COURSE_KEY_RE, is_course_key, validate_course_key
from handlers.partners.appsembler.errors import PARTNER
from handlers.partners.appsembler.models import (
    AccountRecord,
    AppsemblerUser,
    BulkEnrollmentResult,
    CourseEnrollmentResult,
    EnrollmentChange,
    EnrollmentCodes,
    EnrollmentRecord,
    EnrollmentState,
    IdentifierError,
    IdentifierResult,
    InvalidIdentifier,
)

__all__ = [
    "COURSE_KEY_RE",
    "PARTNER",
    "AccountOutcome",
    "AccountRecord",
    "AppsemblerClient",
    "AppsemblerUser",
    "BulkEnrollmentResult",
    "ClientCredentials",
    "CourseEnrollmentResult",
    "EnrollmentChange",
    "EnrollmentCodes",
    "EnrollmentRecord",
    "EnrollmentState",
    "IdentifierError",
    "IdentifierResult",
    "InvalidIdentifier",
    "StaticToken",
    "TokenSource",
    "ensure_account",
    "is_course_key",
    "validate_course_key",
]
