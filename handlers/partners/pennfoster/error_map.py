"""Every Penn Foster HTTP status and system code mapped to eduhook's error tree, in one place.

- HTTP (``check_response``): 429/5xx → TransientError (Retry-After honoured); 401 after the one
  token refresh → ConfigurationError; other 4xx → PermanentError. A body whose codes are all
  transient (E999999001) makes even a 4xx transient.
- Token endpoint (``check_token_response``): 400/401/403 → ConfigurationError (bad credentials).
- Per-item results: ``X`` → succeeded; all codes "already done" → AlreadyDoneError; all codes
  transient or already done → TransientError; anything else → PermanentError. A result carrying
  both a validation code and E608600001 stays permanent: a person should look at it.
  - Leads (``classify_result``): E608600001, E602500002 and E614400005 are already done, since a
    lead's alternate id names one lead in one program.
  - Learners (``classify_learner_result``): only E614400005 "product code already exists for
    student" is already done. E608600001 "alternate id already exists" and E602500002 "student
    already has an active enrollment" say Penn Foster knows the *learner*, not that it holds this
    program: kind ``exists``, which the caller settles by looking the learner up
    (``enrollment.py``).

Messages carry the codes and the doc's meaning of each code, never Penn Foster's free text, which
can quote what was sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
import orjson

from handlers.errors import (
    AlreadyDoneError,
    ConfigurationError,
    EduhookError,
    PartnerDataError,
    PermanentError,
    TransientError,
)
from handlers.partners._http import Clock, raise_for_status

PARTNER = "pennfoster"

# The doc's "Penn Foster System Codes" table.
SYSTEM_CODES: dict[str, str] = {
    "E601400001": "Country is invalid",
    "E601400002": "Country is required",
    "E602500001": "Employee Id is required",
    "E602500002": "Student already has an active enrollment",
    "E602600001": "Invalid student email address",
    "E604000001": "Zip code must be entered",
    "E604100001": "Email address must be entered",
    "E604100002": "Invalid email address",
    "E604200001": "Invalid phone type",
    "E604300001": "Phone number must be entered when there is a phone type",
    "E607100001": "Invalid parent id",
    "E607200001": "Invalid location id",
    "E607300001": "Invalid client id",
    "E607400001": "Student name must be entered",
    "E607700001": "Address line 1 must be entered",
    "E607700002": "Action code is invalid",
    "E607800001": "City must be entered",
    "E607900001": "Invalid state code",
    "E608600001": "Alternate id already exists",
    "E608600002": "Alternate id is required",
    "E614400001": "Invalid product code",
    "E614400002": "Invalid module or lesson",
    "E614400003": "Module or lesson is obsolete",
    "E614400005": "Product code already exists for student",
    "E614400006": "Product code is not active or current",
    "E999999001": "Order is currently being processed",
}
ALREADY_DONE_CODES = frozenset({"E608600001", "E602500002", "E614400005"})
# For learners: the program is there already, versus the learner is known (program unknown).
LEARNER_DONE_CODES = frozenset({"E614400005"})
LEARNER_EXISTS_CODES = frozenset({"E608600001", "E602500002"})
TRANSIENT_CODES = frozenset({"E999999001"})

Kind = Literal["succeeded", "already_done", "exists", "transient", "permanent"]


class ItemResult(Protocol):
    """What ``LearnerResult`` and ``LeadResult`` have in common."""

    @property
    def status(self) -> str: ...

    @property
    def error_codes(self) -> list[str]: ...


@dataclass(frozen=True)
class ItemOutcome:
    """How one learner/lead result turned out; ``error`` is ``None`` only when it succeeded."""

    kind: Kind
    error: EduhookError | None = None

    def raise_error(self) -> None:
        """Raise ``error`` (AlreadyDoneError, TransientError or PermanentError) if there is one."""
        if self.error is not None:
            raise self.error


def describe_codes(codes: Sequence[str]) -> str:
    """``E601400001 (Country is invalid), E9… (undocumented code)``: safe for messages and logs."""
    return ", ".join(f"{code} ({SYSTEM_CODES.get(code, 'undocumented code')})" for code in codes)


def classify_result(result: ItemResult, *, what: str) -> ItemOutcome:
    """Classify one per-item result of ``POST /leads``."""
    return _classify(result, what=what, done=ALREADY_DONE_CODES, exists=frozenset())


def classify_learner_result(result: ItemResult, *, what: str) -> ItemOutcome:
    """Classify one per-item result of ``POST /learners``. Kind ``exists`` carries a
    PermanentError naming the codes, for when the learner cannot be looked up and sent again."""
    return _classify(result, what=what, done=LEARNER_DONE_CODES, exists=LEARNER_EXISTS_CODES)


def _classify(result: ItemResult, *, what: str, done: frozenset[str], exists: frozenset[str]) -> ItemOutcome:
    status = result.status.strip().upper()
    codes = result.error_codes
    if status == "X":
        return ItemOutcome("succeeded")
    if status != "E":
        return ItemOutcome(
            "permanent",
            PartnerDataError(f"{what}: unknown item status {status!r}", partner=PARTNER),
        )
    if not codes:
        return ItemOutcome(
            "permanent", PermanentError(f"{what}: rejected without an error code", partner=PARTNER)
        )
    first = codes[0]
    message = f"{what}: {describe_codes(codes)}"
    code_set = set(codes)
    benign = done | exists
    if code_set <= benign and code_set & done:
        code = next(code for code in codes if code in done)
        return ItemOutcome("already_done", AlreadyDoneError(message, partner=PARTNER, partner_code=code))
    if code_set <= exists:
        return ItemOutcome("exists", PermanentError(message, partner=PARTNER, partner_code=first))
    if code_set & TRANSIENT_CODES and code_set <= TRANSIENT_CODES | benign:
        transient = next(code for code in codes if code in TRANSIENT_CODES)
        return ItemOutcome("transient", TransientError(message, partner=PARTNER, partner_code=transient))
    permanent = next(code for code in codes if code not in benign | TRANSIENT_CODES)
    return ItemOutcome("permanent", PermanentError(message, partner=PARTNER, partner_code=permanent))


def _body_codes(response: httpx.Response) -> list[str]:
    """Error codes from an error body: ``{"errors": [{"error_code"}]}`` or ``{"error_code"}``."""
    try:
        body: Any = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return []
    if isinstance(body, list) and len(body) == 1:
        body = body[0]
    if not isinstance(body, dict):
        return []
    codes: list[str] = []
    if isinstance(body.get("error_code"), str):
        codes.append(body["error_code"])
    for item in body.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("error_code"), str):
            codes.append(item["error_code"])
    return codes


def check_response(response: httpx.Response, *, what: str, now: Clock) -> None:
    """Raise the error a non-2xx API answer means; call after the one 401 refresh was spent."""
    status = response.status_code
    if status < 400:
        return
    codes = _body_codes(response)
    detail = describe_codes(codes) or None
    code = codes[0] if codes else None
    if status == 401:
        raise ConfigurationError(
            f"{what}: HTTP 401 with a freshly issued token (check the API client's roles)",
            partner=PARTNER,
            status_code=status,
            partner_code=code,
        )
    if codes and set(codes) <= TRANSIENT_CODES:
        raise TransientError(
            f"{what}: HTTP {status}: {detail}", partner=PARTNER, status_code=status, partner_code=code
        )
    raise_for_status(response, partner=PARTNER, what=what, detail=detail, partner_code=code, now=now)


def check_token_response(response: httpx.Response, *, now: Clock) -> None:
    """Raise for a failed ``POST /oauth/token``: a refusal means our credentials are wrong."""
    status = response.status_code
    if status in (400, 401, 403):
        raise ConfigurationError(
            f"token request refused (HTTP {status}): check PENNFOSTER_CLIENT_ID,"
            " PENNFOSTER_CLIENT_SECRET and PENNFOSTER_API_KEY",
            partner=PARTNER,
            status_code=status,
        )
    raise_for_status(response, partner=PARTNER, what="token request", now=now)


def not_found(response: httpx.Response) -> bool:
    """A lookup's "no such learner" answer, which lookups report as ``None``/empty, not an error."""
    return response.status_code == 404
