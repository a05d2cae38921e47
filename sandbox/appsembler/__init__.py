"""Appsembler (Open edX, Tahoe) sandbox: ``create_app(seed=None, *, clock=None)``.

Default credentials (constants below): static bearer token ``sandbox-appsembler-token``; client
credentials ``eduhook-sandbox`` / ``eduhook-sandbox-secret`` for ``POST /oauth2/access_token``
(tokens live 36000 s of the ``SandboxClock``). Default courses: ``course-v1:edX+DemoX+Demo_Course``
and ``course-v1:Appsembler+APP101+1Q2016``; one account ``honor`` (honor@example.com) enrolled
in the first.

Seed (every key optional; with a seed, missing users/enrollments/allowed/codes are empty)::

    {"courses": ["course-v1:Org+Code+Run", ...],         # the only courses that exist
     "tokens": ["static-token", ...],                    # static bearer tokens
     "clients": {"client_id": "client_secret"},          # for the client-credentials grant
     "token_lifetime": 36000,                             # seconds, issued tokens
     "users": [{"username", "email", "name"?, "password"?, "id"?, "is_active"?, "date_joined"?}],
     "enrollments": {"<course>": ["<username>", ...]},
     "allowed": {"<course>": ["email", {"email", "auto_enroll"}]},
     "codes": {"<course>": ["CODE1", ...]},              # unredeemed enrollment codes
     "error_identifiers": ["x@example.com"],             # bulk results {"identifier", "error": true}
     "random_seed": 0}                                   # generated codes are deterministic

Behaviour (Appsembler's deployed code where the doc is silent):
- 401 ``{"detail": "Authentication credentials were not provided."}`` without a Bearer header,
  ``{"detail": "Invalid Token."}`` for unknown or expired tokens.
- accounts/create: missing fields → 400 ``{"<field>": ["This field is required."]}``; username or
  email taken (case-insensitive) → 409; bad values → 400 ``{"user_message": "Wrong parameters on
  user creation"}``; success → ``{"user_id ": <int>}`` (trailing space). Pending auto_enroll
  "allowed" entries become enrollments on registration.
- bulk-enroll: courses split on commas and NOT trimmed (``" course-v1:…"`` → 400 ``{"courses":
  ["Course key not valid: …"]}``); a well-formed key of a course that does not exist → 404
  ``{"detail": "Not found."}`` with nothing changed (Open edX 404s the course, DRF rolls back);
  identifiers split on commas/whitespace; unknown email → "allowed"; unknown non-email →
  ``invalidIdentifier``; re-enroll is a no-op.
- enrollment codes: bad/unknown course → 400/404; reasons "User not found", "Enrollment code not
  found", "Enrollment code error." (cancelled or used), "Already enrolled.".
- analytics: bounds are exclusive; the enrollment batch lists deactivated enrollments too.

Controls besides the shared ``/_sandbox`` ones: ``POST/DELETE /_sandbox/identifier-errors``
``{"identifiers": [...]}``, ``POST /_sandbox/courses`` ``{"courses": [...]}`` and
``POST /_sandbox/late-answers {"delay": 2, "count": 1}`` (the next ``count`` accounts/create calls
create the account at once and answer only after ``delay`` seconds: an answer lost to a timeout).
"""

from __future__ import annotations

from sandbox.appsembler.app import create_app
from sandbox.appsembler.state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_COURSES,
    DEFAULT_TOKEN,
    TOKEN_LIFETIME,
)

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_COURSES",
    "DEFAULT_TOKEN",
    "TOKEN_LIFETIME",
    "create_app",
]
