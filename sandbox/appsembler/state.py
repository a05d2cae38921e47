"""The Appsembler sandbox's memory: accounts, enrollments, "allowed" emails, codes and tokens."""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sandbox.base import SandboxClock

DEFAULT_TOKEN = "sandbox-appsembler-token"
DEFAULT_CLIENT_ID = "eduhook-sandbox"
DEFAULT_CLIENT_SECRET = "eduhook-sandbox-secret"
DEFAULT_COURSES = ("course-v1:edX+DemoX+Demo_Course", "course-v1:Appsembler+APP101+1Q2016")
TOKEN_LIFETIME = 36000
DEFAULT_SEED: dict[str, Any] = {
    "users": [{"username": "honor", "email": "honor@example.com", "name": "Honor Student"}],
    "enrollments": {DEFAULT_COURSES[0]: ["honor"]},
}

# opaque_keys' CourseKey.from_string: course-v1:Org+Code+Run, or the legacy Org/Code/Run form.
_PART = r"[\w\-~.:]+"
COURSE_KEY_RE = re.compile(rf"course-v1:{_PART}\+{_PART}\+{_PART}|[\w\-~.]+/[\w\-~.]+/[\w\-~.:]+")
# Close enough to Django's validate_email for a sandbox: one @, a dotted domain (or localhost).
EMAIL_RE = re.compile(r"[^@\s,]+@([^@\s,.]+\.)+[^@\s,.]+|[^@\s,]+@localhost")
CODE_ALPHABET = string.ascii_letters + string.digits


@dataclass
class Account:
    id: int
    username: str
    email: str
    name: str
    password: str
    is_active: bool
    date_joined: float


@dataclass
class Enrollment:
    id: int
    user_id: int
    course_id: str
    created: float
    is_active: bool = True


@dataclass
class Allowed:
    """Open edX's CourseEnrollmentAllowed: an email to enroll once it registers (if auto_enroll)."""

    email: str
    auto_enroll: bool


@dataclass
class Code:
    code: str
    course_id: str
    valid: bool = True
    redeemed_by: int | None = None


@dataclass
class AppsemblerState:
    clock: SandboxClock
    courses: list[str]
    static_tokens: list[str]
    clients: dict[str, str]
    token_lifetime: float
    rng: random.Random
    issued: dict[str, float] = field(default_factory=dict)
    accounts: list[Account] = field(default_factory=list)
    enrollments: dict[str, dict[int, Enrollment]] = field(default_factory=dict)
    allowed: dict[str, dict[str, Allowed]] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    error_identifiers: set[str] = field(default_factory=set)
    # One delay per coming accounts/create call: created at once, answered only after the delay.
    late_answers: list[float] = field(default_factory=list)
    next_enrollment_id: int = 1

    # Lookups ------------------------------------------------------------------------------
    # Open edX runs on MySQL with case-insensitive collation, so lookups ignore case.

    def by_email(self, email: str) -> Account | None:
        return next((a for a in self.accounts if a.email.lower() == email.lower()), None)

    def by_username(self, username: str) -> Account | None:
        return next((a for a in self.accounts if a.username.lower() == username.lower()), None)

    def by_id(self, user_id: int) -> Account | None:
        return next((a for a in self.accounts if a.id == user_id), None)

    def is_enrolled(self, course_id: str, user_id: int) -> bool:
        row = self.enrollments.get(course_id, {}).get(user_id)
        return row is not None and row.is_active

    def email_state(self, course_id: str, email: str) -> dict[str, bool]:
        """Open edX's EmailEnrollmentState, as bulk-enroll reports it before and after."""
        account = self.by_email(email)
        allowed = self.allowed.get(course_id, {}).get(email.lower())
        return {
            "user": account is not None,
            "enrollment": account is not None and self.is_enrolled(course_id, account.id),
            "allowed": allowed is not None,
            "auto_enroll": allowed.auto_enroll if allowed else False,
        }

    # Changes ------------------------------------------------------------------------------

    def enroll(self, course_id: str, user_id: int) -> None:
        rows = self.enrollments.setdefault(course_id, {})
        row = rows.get(user_id)
        if row is None:
            rows[user_id] = Enrollment(self.next_enrollment_id, user_id, course_id, self.clock())
            self.next_enrollment_id += 1
        else:
            row.is_active = True

    def unenroll(self, course_id: str, user_id: int) -> None:
        # Open edX keeps the row and deactivates it; the analytics batch still lists it.
        row = self.enrollments.get(course_id, {}).get(user_id)
        if row is not None:
            row.is_active = False

    def add_account(self, username: str, email: str, name: str, password: str, **extra: Any) -> Account:
        joined = extra.get("date_joined")
        account = Account(
            id=int(extra.get("id") or max((a.id for a in self.accounts), default=0) + 1),
            username=username,
            email=email,
            name=name,
            password=password,
            is_active=bool(extra.get("is_active", True)),
            date_joined=datetime.fromisoformat(joined).timestamp() if joined else self.clock(),
        )
        self.accounts.append(account)
        # Registration turns auto_enroll "allowed" entries into enrollments.
        for course_id, entries in self.allowed.items():
            entry = entries.get(email.lower())
            if entry is not None and entry.auto_enroll:
                self.enroll(course_id, account.id)
        return account

    def new_code(self, course_id: str) -> Code:
        while True:
            value = "".join(self.rng.choice(CODE_ALPHABET) for _ in range(8))
            if value not in self.codes:
                self.codes[value] = Code(value, course_id)
                return self.codes[value]

    def to_json(self) -> dict[str, Any]:
        """``GET /_sandbox/state``; passwords and tokens stay out."""
        now = self.clock()
        names = {a.id: a.username for a in self.accounts}
        return {
            "courses": list(self.courses),
            "accounts": [
                {
                    "id": a.id,
                    "username": a.username,
                    "email": a.email,
                    "name": a.name,
                    "is_active": a.is_active,
                    "date_joined": iso(a.date_joined),
                }
                for a in self.accounts
            ],
            "enrollments": {
                course: sorted(names[uid] for uid, row in rows.items() if row.is_active)
                for course, rows in self.enrollments.items()
            },
            "allowed": {
                course: [{"email": e.email, "auto_enroll": e.auto_enroll} for e in entries.values()]
                for course, entries in self.allowed.items()
                if entries
            },
            "codes": {
                c.code: {
                    "course_id": c.course_id,
                    "valid": c.valid,
                    "redeemed_by": names.get(c.redeemed_by) if c.redeemed_by else None,
                }
                for c in self.codes.values()
            },
            "error_identifiers": sorted(self.error_identifiers),
            "late_answers": list(self.late_answers),
            "tokens": {
                "static": len(self.static_tokens),
                "issued_live": sum(1 for expiry in self.issued.values() if expiry > now),
            },
        }


def iso(moment: float) -> str:
    """Datetimes as Django REST framework renders them: ISO 8601 with ``Z``."""
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def build_state(seed: dict[str, Any] | None, clock: SandboxClock) -> AppsemblerState:
    """The state a seed describes (see the package docstring for the format)."""
    data = DEFAULT_SEED if seed is None else seed
    state = AppsemblerState(
        clock=clock,
        courses=list(data.get("courses", DEFAULT_COURSES)),
        static_tokens=list(data.get("tokens", [DEFAULT_TOKEN])),
        clients=dict(data.get("clients", {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET})),
        token_lifetime=float(data.get("token_lifetime", TOKEN_LIFETIME)),
        rng=random.Random(data.get("random_seed", 0)),
        error_identifiers=set(data.get("error_identifiers", [])),
    )
    for course_id, entries in data.get("allowed", {}).items():
        for entry in entries:
            item = {"email": entry} if isinstance(entry, str) else entry
            auto = bool(item.get("auto_enroll", True))
            state.allowed.setdefault(course_id, {})[item["email"].lower()] = Allowed(item["email"], auto)
    for user in data.get("users", []):
        extra = {k: user[k] for k in ("id", "is_active", "date_joined") if k in user}
        state.add_account(
            user["username"],
            user["email"],
            user.get("name", user["username"]),
            user.get("password", "edx"),
            **extra,
        )
    for course_id, usernames in data.get("enrollments", {}).items():
        for username in usernames:
            account = state.by_username(username)
            if account is None:
                raise ValueError(f"seed enrollment names unknown user {username!r}")
            state.enroll(course_id, account.id)
    for course_id, codes in data.get("codes", {}).items():
        for value in codes:
            state.codes[value] = Code(value, course_id)
    return state
