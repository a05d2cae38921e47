"""A Penn Foster B2B API sandbox that enforces the contract in docs/partner-contracts.md.

Default credentials (all seedable): client_id ``eduhook-sandbox``, client_secret
``sandbox-client-secret``, api_key ``sandbox-api-key``; tokens live ``token_ttl`` = 3600 s on the
sandbox clock (``POST /_sandbox/clock {"advance": s}`` expires them).

Seed (every key optional)::

    {
      "client_id": "...", "client_secret": "...", "api_key": "...", "token_ttl": 5,
      "organizations": [            # default: the doc's 141982/244648/329209 and 143738/247319/333813
        {"organization_id": 141982, "name": "...", "type": "Parent", "status": "Active",
         "address": {...}, "locations": [
           {"location_id": 244648, "name": "...", "clients": [{"client_id": 329209, "name": "..."}]}]}
      ],
      "programs": {"00787105": "Program name"},   # default null: any program id up to 15 chars
      "learners": [{"learner_id": "52975707", "alternate_id": "a-1", "organization_id": 141982,
                    "location_id": 244648, "client_id": 329209, "program_id": "TES01105",
                    "active_status": "Active", ...}]  # lookup shape; ids generated when absent
    }

Routes: ``POST /oauth/token``; under ``/api/v4/b2b``: ``POST /learners`` (≤ 20 items),
``GET /learners?student_id=|alternate_id=|organization_id=&page_number=&rows_per_page=``,
``GET /learners/{student or alternate id}``, ``POST /learners/cancel`` and
``/learners/{student_id}/cancel``; under ``/api/v3/b2b``: ``POST /leads`` (flat or nested array),
``GET /organizations/{org}[/locations/{loc}[/clients/{client}]]``.

Per-item errors use the doc's codes; where the doc has none the sandbox answers ``E690000001``
(required field missing), ``E690000002`` (field too long) or ``E690000003`` (invalid value).

Controls besides the shared ``/_sandbox`` ones: ``POST /_sandbox/pennfoster/item-errors
{"code": "E999999001", "count": N, "target": "learners"|"leads"}`` (next N items fail with that
code; ``DELETE`` clears), ``POST /_sandbox/pennfoster/revoke-tokens`` (every token gets 401) and
``POST /_sandbox/pennfoster/execute-cancels`` (requested cancellations take effect).
"""

from __future__ import annotations

from sandbox.pennfoster.app import create_app
from sandbox.pennfoster.state import (
    DEFAULT_API_KEY,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_TOKEN_TTL,
)

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_TOKEN_TTL",
    "create_app",
]
