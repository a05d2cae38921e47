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
                    "active_status": "Active", ...}]  # lookup shape; ids generated when absent;
    }                                                 # rows sharing a learner_id are one learner

A learner is one person (one student id, one alternate id) holding one enrollment per program;
``/_sandbox/state`` lists learners, each with its ``enrollments``. A learner object without
``addressbook_info.learner_id`` is a new learner, refused with E608600001 when its alternate id
exists. With the learner id of a known learner it adds the program to that learner: E614400005 if
the learner holds it already and it is not canceled, E690000003 for an unknown learner id.
Lookups answer one record per learner and program, as the doc's examples do.

Routes: ``POST /oauth/token``; under ``/api/v4/b2b``: ``POST /learners`` (≤ 20 items),
``GET /learners?student_id=|alternate_id=|organization_id=&page_number=&rows_per_page=``,
``GET /learners/{student or alternate id}``, ``POST /learners/cancel`` and
``/learners/{student_id}/cancel``; under ``/api/v3/b2b``: ``POST /leads`` (flat or nested array),
``GET /organizations/{org}[/locations/{loc}[/clients/{client}]]``.

Per-item errors use the doc's codes; where the doc has none the sandbox answers ``E690000001``
(required field missing), ``E690000002`` (field too long) or ``E690000003`` (invalid value).

Controls besides the shared ``/_sandbox`` ones: ``POST /_sandbox/pennfoster/item-errors
{"code": "E999999001", "count": N, "target": "learners"|"leads"}`` (next N items fail with that
code; ``DELETE`` clears), ``POST /_sandbox/pennfoster/late-answers {"delay": 3, "count": N}``
(the next N learner batches are carried out at once and answered after the delay),
``POST /_sandbox/pennfoster/revoke-tokens`` (every token gets 401) and
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
