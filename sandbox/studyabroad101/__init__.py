"""StudyAbroad101 sandbox: a signed, read-only leads and reviews API that enforces the partner's auth.

Default credentials: API user ``sample-provider-1``, API key ``sandbox-studyabroad101-key``
(``DEFAULT_API_USER`` / ``DEFAULT_API_KEY``).

Seed format (every key optional)::

    {
      "users":   {"<api user>": "<api key>", ...},      # default: the one default user
      "leads":   [<lead in the partner's JSON shape>],  # needs int "id", "created_at_string" MM/DD/YYYY
      "reviews": [<review in the partner's JSON shape>],
      "answers": {"<review id>": [<answer object>, ...]}
    }

``create_app()`` without a seed serves the records from the partner's documentation (leads 1, 3, 7,
11, 14-17, 20; reviews 2, 4, 6, 8-10). ``build_leads`` / ``build_reviews`` make N records for a seed.

Every ``/api/...`` call must carry ``X-A101-Auth``, ``X-A101-User`` and ``X-A101-Date`` (RFC 2822, GMT,
within 60 s of the sandbox clock either way); the signature is checked over the path and query string
exactly as received. Failures answer ``401 {"error": "<partner error name>", "message": ...}`` with
AuthHeaderMissing, ClientHeaderMissing, DateHeaderMissing (also for an unreadable or non-GMT date),
InvalidClient, AuthTimeDifference or InvalidSignature, checked in that order. An unreadable filter
answers ``400 {"error": "InvalidParameter"}``.

Control routes beyond the shared ``/_sandbox`` ones: ``POST /_sandbox/seed`` adds (or replaces by id)
users and records in the seed format above; ``GET /_sandbox/state`` shows user names and counts.
"""

from __future__ import annotations

from sandbox.studyabroad101.app import create_app
from sandbox.studyabroad101.seed import (
    DEFAULT_API_KEY,
    DEFAULT_API_USER,
    build_leads,
    build_reviews,
    default_seed,
)

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_API_USER",
    "build_leads",
    "build_reviews",
    "create_app",
    "default_seed",
]
