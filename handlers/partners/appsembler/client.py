"""``AppsemblerClient``: Open edX (Tahoe) accounts, bulk enrollment, enrollment codes and analytics."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import date
from typing import Any, TypeVar

import httpx
import orjson
from pydantic import BaseModel, SecretStr

from eduhook.settings import Settings
from handlers.errors import ConfigurationError, PermanentError
from handlers.partners._http import Clock, PartnerClient, make_client, send
from handlers.partners.appsembler.auth import ClientCredentials, StaticToken, TokenSource
from handlers.partners.appsembler.errors import PARTNER, parse_model, raise_for_api, read_json, shape_error
from handlers.partners.appsembler.inputs import check_courses, check_identifiers, time_params
from handlers.partners.appsembler.models import (
    AccountRecord,
    AppsemblerUser,
    BulkAction,
    BulkEnrollmentResult,
    CodeAction,
    EnrollmentCodes,
    EnrollmentRecord,
)

API = "/appsembler_api/v0"
# The get-user route only matches these characters; anything else can never be found there.
_USERNAME_RE = re.compile(r"[\w.+-]+")
# The account id arrives under "user_id " (trailing space, the deployed code) or "user_id" (fixed forks).
_USER_ID_KEYS = ("user_id ", "user_id")

RecordT = TypeVar("RecordT", bound=BaseModel)


class AppsemblerClient(PartnerClient):
    """One Appsembler (Tahoe) site. Takes an ``httpx.Client`` whose base URL is the site root."""

    def __init__(self, http: httpx.Client, auth: TokenSource, *, clock: Clock = time.time) -> None:
        self._http = http
        self._auth = auth
        self._clock = clock

    @classmethod
    def from_settings(
        cls, settings: Settings, *, transport: httpx.BaseTransport | None = None, clock: Clock = time.time
    ) -> AppsemblerClient:
        """A static ``APPSEMBLER_API_TOKEN`` wins over client credentials when both are set."""
        if not settings.appsembler_api_url:
            raise ConfigurationError("APPSEMBLER_API_URL is not set", partner=PARTNER)
        http = make_client(
            settings.appsembler_api_url,
            connect_timeout=settings.http_connect_timeout,
            read_timeout=settings.http_read_timeout,
            transport=transport,
        )
        auth: TokenSource
        if settings.appsembler_api_token is not None:
            auth = StaticToken(settings.appsembler_api_token)
        elif settings.appsembler_client_id and settings.appsembler_client_secret is not None:
            auth = ClientCredentials(
                http, settings.appsembler_client_id, settings.appsembler_client_secret, clock=clock
            )
        else:
            http.close()
            raise ConfigurationError(
                "Appsembler credentials are not set: set APPSEMBLER_API_TOKEN, or both"
                " APPSEMBLER_CLIENT_ID and APPSEMBLER_CLIENT_SECRET",
                partner=PARTNER,
            )
        return cls(http, auth, clock=clock)

    # Accounts -------------------------------------------------------------------------------

    def get_user(self, username: str) -> AppsemblerUser | None:
        """The account named ``username``, or None when Appsembler answers 404."""
        what = "accounts/get-user"
        if not _USERNAME_RE.fullmatch(username):
            raise PermanentError(
                f"{what}: username has characters the endpoint cannot look up",
                partner=PARTNER,
                partner_code="invalid_username",
            )
        response = self._call("GET", f"{API}/accounts/get-user/{username}", what=what)
        if response.status_code == 404:
            return None
        self._raise(response, what)
        body = self._object(response, what)
        found = next((body[k] for k in _USER_ID_KEYS if isinstance(body.get(k), str)), None)
        if found is None:
            raise shape_error(what, "no user_id")
        return AppsemblerUser(username=found)

    def create_account(self, username: str, password: str | SecretStr, email: str, name: str) -> int:
        """Create an account and return its numeric id.

        A 409 (username *or* email taken) raises ``AlreadyDoneError``: there is no id in that answer,
        and handlers record the account as done and enroll by email, which works either way.
        """
        what = "accounts/create"
        secret = password.get_secret_value() if isinstance(password, SecretStr) else password
        body = {"username": username, "password": secret, "email": email, "name": name}
        response = self._call("POST", f"{API}/accounts/create", what=what, json=body)
        self._raise(response, what)
        answer = self._object(response, what)
        for key in _USER_ID_KEYS:
            value = answer.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.isdigit():
                return int(value)
        raise shape_error(what, "no numeric user_id")

    # Bulk enrollment ------------------------------------------------------------------------

    def bulk_enroll(
        self,
        identifiers: Sequence[str],
        courses: Sequence[str],
        *,
        auto_enroll: bool = False,
        email_students: bool = False,
    ) -> BulkEnrollmentResult:
        """Enroll emails/usernames in courses; unknown emails become "allowed" (see models)."""
        return self._bulk("enroll", identifiers, courses, auto_enroll, email_students)

    def bulk_unenroll(
        self, identifiers: Sequence[str], courses: Sequence[str], *, email_students: bool = False
    ) -> BulkEnrollmentResult:
        return self._bulk("unenroll", identifiers, courses, False, email_students)

    def _bulk(
        self,
        action: BulkAction,
        identifiers: Sequence[str],
        courses: Sequence[str],
        auto_enroll: bool,
        email_students: bool,
    ) -> BulkEnrollmentResult:
        what = f"bulk-enroll ({action})"
        people = list(dict.fromkeys(check_identifiers(identifiers, what)))
        keys = list(dict.fromkeys(check_courses(courses, what)))
        body = {
            "action": action,
            "identifiers": ",".join(people),
            "courses": ",".join(keys),
            "auto_enroll": auto_enroll,
            "email_students": email_students,
        }
        response = self._call("POST", f"{API}/bulk-enrollment/bulk-enroll", what=what, json=body)
        self._raise(response, what, not_found=f"course not found (one of {', '.join(keys)})")
        result = parse_model(BulkEnrollmentResult, read_json(response, what=what), what=what)
        for key in keys:
            course = result.courses.get(key)
            if course is None:
                raise shape_error(what, f"no results for course {key}")
            for index, identifier in enumerate(people, start=1):
                if course.for_identifier(identifier) is None:
                    raise shape_error(what, f"course {key}: no result for identifier #{index}")
        return result

    # Enrollment codes -----------------------------------------------------------------------

    def generate_enrollment_codes(self, course_id: str, total: int) -> EnrollmentCodes:
        what = "enrollment-codes/generate"
        check_courses([course_id], what)
        if total < 1:
            raise PermanentError(f"{what}: total must be at least 1", partner=PARTNER)
        body = {"course_id": course_id, "total_registration_codes": total}
        response = self._call("POST", f"{API}/enrollment-codes/generate", what=what, json=body)
        self._raise(response, what, not_found=f"course {course_id} not found")
        codes = parse_model(EnrollmentCodes, read_json(response, what=what), what=what)
        if len(codes.codes) != total:
            raise shape_error(what, f"asked for {total} codes, got {len(codes.codes)}")
        return codes

    def enroll_with_code(self, email: str, code: str) -> None:
        """Redeem ``code`` for the account with ``email``; "Already enrolled." is ``AlreadyDoneError``."""
        what = "enrollment-codes/enroll-user"
        body = {"email": email, "enrollment_code": code}
        self._expect_success(
            self._call("POST", f"{API}/enrollment-codes/enroll-user", what=what, json=body), what
        )

    def set_enrollment_code_status(self, code: str, action: CodeAction) -> None:
        """cancel: the code stops working (and its user is unenrolled); restore: it works again."""
        what = f"enrollment-codes/status ({action})"
        body = {"enrollment_code": code, "action": action}
        self._expect_success(self._call("POST", f"{API}/enrollment-codes/status", what=what, json=body), what)

    # Analytics ------------------------------------------------------------------------------

    def accounts_batch(
        self, *, updated_min: date | None = None, updated_max: date | None = None
    ) -> list[AccountRecord]:
        """Accounts joined strictly between the bounds (either may be left open)."""
        params = time_params(updated_min, updated_max)
        return self._records(AccountRecord, f"{API}/analytics/accounts/batch", "analytics/accounts", params)

    def enrollments_batch(
        self,
        *,
        course_id: str | None = None,
        updated_min: date | None = None,
        updated_max: date | None = None,
    ) -> list[EnrollmentRecord]:
        what = "analytics/enrollment"
        params = time_params(updated_min, updated_max)
        if course_id is not None:
            check_courses([course_id], what)
            params["course_id"] = course_id
        return self._records(EnrollmentRecord, f"{API}/analytics/enrollment/batch", what, params)

    # Plumbing -------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, what: str, json: Any = None, params: dict[str, str] | None = None
    ) -> httpx.Response:
        """Send with the current token; after a 401 a refreshable token is renewed and sent once more."""
        content = orjson.dumps(json) if json is not None else None
        for attempt in (1, 2):
            token = self._auth.token()
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            request = self._http.build_request(method, path, content=content, params=params, headers=headers)
            response = send(self._http, request, partner=PARTNER, what=what)
            if response.status_code == 401 and attempt == 1 and self._auth.invalidate(token):
                continue
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise(self, response: httpx.Response, what: str, *, not_found: str = "not found") -> None:
        raise_for_api(
            response,
            what=what,
            credentials_env=self._auth.settings_hint,
            now=self._clock,
            not_found=not_found,
        )

    def _object(self, response: httpx.Response, what: str) -> dict[str, Any]:
        body = read_json(response, what=what)
        if not isinstance(body, dict):
            raise shape_error(what, "expected an object")
        return body

    def _expect_success(self, response: httpx.Response, what: str) -> None:
        self._raise(response, what)
        body = self._object(response, what)
        # The doc shows "true" as a string, the deployed code a JSON boolean.
        if body.get("success") not in (True, "true", "True"):
            raise PermanentError(
                f"{what}: Appsembler did not report success",
                partner=PARTNER,
                status_code=response.status_code,
            )

    def _records(self, model: type[RecordT], path: str, what: str, params: dict[str, str]) -> list[RecordT]:
        response = self._call("GET", path, what=what, params=params)
        self._raise(response, what)
        body = read_json(response, what=what)
        if not isinstance(body, list):
            raise shape_error(what, "expected a list")
        return [parse_model(model, item, what=f"{what} row {index}") for index, item in enumerate(body)]
