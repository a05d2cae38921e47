"""EduframeClient: the authoritative re-reads behind every webhook, plus leads and webhook management."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, SecretStr, ValidationError

from eduhook.settings import Settings
from handlers.errors import ConfigurationError, PartnerDataError, PermanentError
from handlers.partners._http import Clock, PartnerClient, json_body, make_client, send
from handlers.partners.eduframe.errors import PARTNER, raise_for_response
from handlers.partners.eduframe.models import (
    CatalogVariant,
    Course,
    Enrollment,
    EnrollmentStatus,
    Order,
    PlannedCourse,
    User,
)
from handlers.partners.eduframe.webhooks import (
    FailedWebhookNotification,
    Lead,
    LeadCreate,
    Webhook,
    WebhookNotification,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

MAX_PER_PAGE = 100
# A guard against a server whose Link headers never end; 1000 pages of 100 is far beyond any list we read.
MAX_PAGES = 1000
# A string id longer than this is not shown in errors: it is not an id we know the shape of.
_MAX_ID_SHOWN = 64
QueryParams = Mapping[str, str | int | Sequence[str]]


def _validation_problem(exc: ValidationError) -> str:
    """``order_items missing``, ``status null``, ``id int_parsing``: where and what, never the value.

    pydantic's own message quotes the input values, which may be personal data.
    """
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "<root>"
        if err["type"] == "missing":
            kind = "missing"
        else:
            kind = "null" if err.get("input", ...) is None else err["type"]
        parts.append(f"{where} {kind}")
    return "; ".join(parts)


def _parse(model: type[ModelT], data: Any, *, what: str) -> ModelT:
    """The record as ``model``; a field eduhook acts on that is missing or null fails permanently."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise PartnerDataError(
            f"{what}: unexpected response shape ({_validation_problem(exc)})", partner=PARTNER
        ) from exc


def _unless_gone(read: Callable[[], ModelT]) -> ModelT | None:
    try:
        return read()
    except PermanentError as exc:
        if exc.status_code == 404 and exc.partner == PARTNER:
            return None
        raise


def _list_entry(what: str, index: int, entry: Any) -> str:
    """``list /enrollments: item 3 (id 70007)``: which record of a page failed to parse."""
    ident = entry.get("id") if isinstance(entry, dict) else None
    shown = (isinstance(ident, int) and not isinstance(ident, bool)) or (
        isinstance(ident, str) and 0 < len(ident) <= _MAX_ID_SHOWN
    )
    named = f" (id {ident})" if shown else ""
    return f"{what}: item {index}{named}"


class EduframeClient(PartnerClient):
    """Reads and writes the Eduframe API v1 with a bearer token; lists follow ``Link: rel="next"``."""

    def __init__(self, http: httpx.Client, *, token: SecretStr, clock: Clock = time.time) -> None:
        self._http = http
        self._token = token
        self._clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = time.time,
    ) -> EduframeClient:
        if settings.eduframe_api_token is None or not settings.eduframe_api_token.get_secret_value():
            raise ConfigurationError("EDUFRAME_API_TOKEN is not set", partner=PARTNER)
        if not settings.eduframe_api_url:
            raise ConfigurationError("EDUFRAME_API_URL is not set", partner=PARTNER)
        http = make_client(
            settings.eduframe_api_url,
            connect_timeout=settings.http_connect_timeout,
            read_timeout=settings.http_read_timeout,
            transport=transport,
        )
        return cls(http, token=settings.eduframe_api_token, clock=clock)

    # Reads -------------------------------------------------------------------------------

    def get_order(self, order_id: int) -> Order:
        return self._get_one(f"/orders/{order_id}", Order, resource=f"order {order_id}")

    def find_order(self, order_id: int) -> Order | None:
        """The order, or ``None`` when Eduframe no longer has it (404: deleted)."""
        return _unless_gone(lambda: self.get_order(order_id))

    def get_enrollment(self, enrollment_id: int) -> Enrollment:
        return self._get_one(
            f"/enrollments/{enrollment_id}", Enrollment, resource=f"enrollment {enrollment_id}"
        )

    def find_enrollment(self, enrollment_id: int) -> Enrollment | None:
        """The enrollment, or ``None`` when Eduframe no longer has it (404: deleted)."""
        return _unless_gone(lambda: self.get_enrollment(enrollment_id))

    def list_enrollments(
        self,
        *,
        student_id: int | None = None,
        planned_course_id: int | None = None,
        status: Sequence[EnrollmentStatus] | None = None,
        with_canceled: bool | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> list[Enrollment]:
        """``GET /enrollments``; ``with_canceled=False`` leaves canceled enrollments out."""
        params: dict[str, str | int | Sequence[str]] = {}
        if student_id is not None:
            params["student_id"] = student_id
        if planned_course_id is not None:
            params["planned_course_id"] = planned_course_id
        if status:
            params["status"] = list(status)
        if with_canceled is not None:
            params["with_canceled"] = "true" if with_canceled else "false"
        return self._get_list("/enrollments", Enrollment, params, per_page=per_page)

    def get_user(self, user_id: int) -> User:
        return self._get_one(f"/users/{user_id}", User, resource=f"user {user_id}")

    def get_catalog_variant(self, variant_id: int) -> CatalogVariant:
        return self._get_one(
            f"/catalog/variants/{variant_id}", CatalogVariant, resource=f"catalog variant {variant_id}"
        )

    def get_planned_course(self, planned_course_id: int) -> PlannedCourse:
        return self._get_one(
            f"/planned_courses/{planned_course_id}",
            PlannedCourse,
            resource=f"planned course {planned_course_id}",
        )

    def get_course(self, course_id: int) -> Course:
        return self._get_one(f"/courses/{course_id}", Course, resource=f"course {course_id}")

    def get_lead(self, lead_id: int) -> Lead:
        return self._get_one(f"/leads/{lead_id}", Lead, resource=f"lead {lead_id}")

    # Writes ------------------------------------------------------------------------------

    def create_lead(self, lead: LeadCreate) -> Lead:
        """``POST /leads`` (201). Eduframe has no idempotency key: callers must prevent duplicates."""
        data = self._request("POST", "/leads", what="create lead", json=lead.to_json())
        return _parse(Lead, data, what="create lead")

    # Webhooks ----------------------------------------------------------------------------

    def create_webhook(self, url: str, *, events: Sequence[str], active: bool = True) -> Webhook:
        body = {"url": url, "active": active, "events": list(events)}
        data = self._request("POST", "/webhooks", what="create webhook", json=body)
        return _parse(Webhook, data, what="create webhook")

    def list_webhooks(self) -> list[Webhook]:
        return self._get_list("/webhooks", Webhook, {})

    def list_webhook_notifications(self, webhook_id: str) -> list[WebhookNotification]:
        return self._get_list(
            f"/webhooks/{webhook_id}/notifications",
            WebhookNotification,
            {},
            resource=f"webhook {webhook_id}",
        )

    def list_failed_webhook_notifications(
        self, webhook_id: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[FailedWebhookNotification]:
        """Deliveries Eduframe gave up on, created between ``start`` and ``end`` (aware datetimes)."""
        params: dict[str, str | int | Sequence[str]] = {}
        if start is not None:
            params["start"] = start.isoformat()
        if end is not None:
            params["end"] = end.isoformat()
        return self._get_list(
            f"/webhooks/{webhook_id}/notifications/failed",
            FailedWebhookNotification,
            params,
            resource=f"webhook {webhook_id}",
        )

    # Plumbing ----------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token.get_secret_value()}",
            "Accept": "application/json",
        }

    def _call(
        self,
        method: str,
        url: str | httpx.URL,
        *,
        what: str,
        resource: str | None = None,
        params: QueryParams | None = None,
        json: Any = None,
    ) -> httpx.Response:
        request = self._http.build_request(method, url, params=params, json=json, headers=self._headers())
        response = send(self._http, request, partner=PARTNER, what=what)
        raise_for_response(response, what=what, resource=resource, now=self._clock)
        return response

    def _request(
        self, method: str, path: str, *, what: str, resource: str | None = None, json: Any = None
    ) -> Any:
        response = self._call(method, path, what=what, resource=resource, json=json)
        return json_body(response, partner=PARTNER, what=what)

    def _get_one(self, path: str, model: type[ModelT], *, resource: str) -> ModelT:
        what = f"get {resource}"
        return _parse(model, self._request("GET", path, what=what, resource=resource), what=what)

    def _get_list(
        self,
        path: str,
        model: type[ModelT],
        params: Mapping[str, str | int | Sequence[str]],
        *,
        resource: str | None = None,
        per_page: int = MAX_PER_PAGE,
    ) -> list[ModelT]:
        """Every page of a list: the first from ``path``, then whatever ``Link: rel="next"`` names."""
        what = f"list {path}"
        first_params = {**params, "per_page": max(1, min(per_page, MAX_PER_PAGE))}
        url: str | httpx.URL = path
        query: QueryParams | None = first_params
        seen: set[str] = set()
        items: list[ModelT] = []
        for _ in range(MAX_PAGES):
            response = self._call("GET", url, what=what, resource=resource, params=query)
            page = json_body(response, partner=PARTNER, what=what)
            if not isinstance(page, list):
                raise PartnerDataError(
                    f"{what}: expected a JSON array, got {type(page).__name__}", partner=PARTNER
                )
            offset = len(items)
            items.extend(
                _parse(model, entry, what=_list_entry(what, offset + n, entry))
                for n, entry in enumerate(page, start=1)
            )
            next_url = self._next_link(response, what=what)
            if next_url is None:
                return items
            if str(next_url) in seen:
                raise PartnerDataError(f"{what}: Link rel=next repeats a page", partner=PARTNER)
            seen.add(str(next_url))
            url, query = next_url, None
        raise PartnerDataError(f"{what}: more than {MAX_PAGES} pages", partner=PARTNER)

    def _next_link(self, response: httpx.Response, *, what: str) -> httpx.URL | None:
        link = response.links.get("next")
        if not link or not link.get("url"):
            return None
        next_url = response.url.join(link["url"])
        # The token goes with every request, so never follow a link to another host.
        base = self._http.base_url
        if (next_url.scheme, next_url.host, next_url.port) != (base.scheme, base.host, base.port):
            raise PartnerDataError(f"{what}: Link rel=next points to another host", partner=PARTNER)
        return next_url
