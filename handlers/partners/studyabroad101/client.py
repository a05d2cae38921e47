"""StudyAbroad101 client: signed, read-only access to leads, reviews and review answers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, SecretStr, TypeAdapter, ValidationError

from eduhook.settings import Settings
from handlers.errors import ConfigurationError, PartnerDataError
from handlers.partners._http import Clock, PartnerClient, fail_shape, make_client, send
from handlers.partners.studyabroad101.errors import PARTNER, decode_response
from handlers.partners.studyabroad101.models import Lead, Review, ReviewAnswer
from handlers.partners.studyabroad101.signing import auth_headers

DEFAULT_PAGE_SIZE = 20

RecordT = TypeVar("RecordT", bound=BaseModel)
Query = dict[str, str | int]


def list_query(
    *,
    created_after: date | None = None,
    created_before: date | None = None,
    program_id: int | None = None,
    offset: int | None = None,
    limit: int | None = None,
) -> Query:
    """The filters the list endpoints take, with dates as ``YYYY-MM-DD``; unset ones left out."""
    params: dict[str, str | int | None] = {
        "created_after": created_after.isoformat() if created_after else None,
        "created_before": created_before.isoformat() if created_before else None,
        "program_id": program_id,
        "offset": offset,
        "limit": limit,
    }
    return {key: value for key, value in params.items() if value is not None}


def path_and_query(path: str, query: Query | None = None) -> str:
    """``path?query`` with parameters sorted by name, so the string we sign is the one we send.

    Sorted order is also the order of every example in the partner's documentation.
    """
    if not query:
        return path
    return f"{path}?{urlencode(sorted(query.items()), quote_via=quote)}"


class StudyAbroad101Client(PartnerClient):
    """Reads from StudyAbroad101; every request is signed with the API user and key."""

    partner = PARTNER

    def __init__(
        self,
        http: httpx.Client,
        *,
        api_user: str,
        api_key: SecretStr,
        clock: Clock = time.time,
    ) -> None:
        self._http = http
        self._user = api_user
        self._key = api_key
        self._clock = clock

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Clock = time.time,
    ) -> StudyAbroad101Client:
        if not settings.studyabroad101_api_user:
            raise ConfigurationError("STUDYABROAD101_API_USER is not set", partner=PARTNER)
        if settings.studyabroad101_api_key is None or not settings.studyabroad101_api_key.get_secret_value():
            raise ConfigurationError("STUDYABROAD101_API_KEY is not set", partner=PARTNER)
        http = make_client(
            settings.studyabroad101_api_url,
            connect_timeout=settings.http_connect_timeout,
            read_timeout=settings.http_read_timeout,
            transport=transport,
        )
        return cls(
            http,
            api_user=settings.studyabroad101_api_user,
            api_key=settings.studyabroad101_api_key,
            clock=clock,
        )

    # Leads ------------------------------------------------------------------------------------

    def list_leads(
        self,
        *,
        created_after: date | None = None,
        created_before: date | None = None,
        program_id: int | None = None,
        offset: int | None = None,
        limit: int | None = None,
    ) -> list[Lead]:
        """One page of leads (the partner's default page size is 20)."""
        filters = list_query(
            created_after=created_after, created_before=created_before, program_id=program_id
        )
        return self._page("api/leads", Lead, filters, offset, limit, what="list leads")

    def iter_leads(
        self,
        *,
        created_after: date | None = None,
        created_before: date | None = None,
        program_id: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Lead]:
        """Every matching lead, page by page, until a page comes back short."""
        filters = list_query(
            created_after=created_after, created_before=created_before, program_id=program_id
        )
        return self._all("api/leads", Lead, filters, page_size, what="list leads")

    def get_lead(self, lead_id: int) -> Lead | None:
        """The lead with ``lead_id``, or ``None`` when the partner has none (an empty array or 404)."""
        what = f"get lead {lead_id}"
        leads = self._get_list(f"api/leads/{lead_id}", None, Lead, what=what, missing_ok=True)
        if len(leads) > 1:
            fail_shape(PARTNER, what, f"expected at most one lead, got {len(leads)}")
        return leads[0] if leads else None

    # Reviews ----------------------------------------------------------------------------------

    def list_reviews(
        self,
        *,
        created_after: date | None = None,
        created_before: date | None = None,
        program_id: int | None = None,
        offset: int | None = None,
        limit: int | None = None,
    ) -> list[Review]:
        """One page of reviews (the partner's default page size is 20)."""
        filters = list_query(
            created_after=created_after, created_before=created_before, program_id=program_id
        )
        return self._page("api/reviews", Review, filters, offset, limit, what="list reviews")

    def iter_reviews(
        self,
        *,
        created_after: date | None = None,
        created_before: date | None = None,
        program_id: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[Review]:
        """Every matching review, page by page, until a page comes back short."""
        filters = list_query(
            created_after=created_after, created_before=created_before, program_id=program_id
        )
        return self._all("api/reviews", Review, filters, page_size, what="list reviews")

    def list_review_answers(self, review_id: int) -> list[ReviewAnswer]:
        """The answers given in review ``review_id`` (an empty list when there are none)."""
        return self._get_list(
            f"api/reviews/{review_id}/answers", None, ReviewAnswer, what=f"list answers of review {review_id}"
        )

    # Plumbing ---------------------------------------------------------------------------------

    def _page(
        self,
        path: str,
        model: type[RecordT],
        filters: Query,
        offset: int | None,
        limit: int | None,
        *,
        what: str,
    ) -> list[RecordT]:
        paging = list_query(offset=offset, limit=limit)
        return self._get_list(path, {**filters, **paging}, model, what=what)

    def _all(
        self, path: str, model: type[RecordT], filters: Query, page_size: int, *, what: str
    ) -> Iterator[RecordT]:
        return _pages(lambda offset: self._page(path, model, filters, offset, page_size, what=what),
                      page_size, what=what)  # fmt: skip

    def _get(self, path: str, query: Query | None, *, what: str, missing_ok: bool = False) -> Any:
        target = path_and_query(path, query)
        request = self._http.build_request("GET", target)
        # Sign the path and query exactly as httpx will put them on the wire (base URL prefix included).
        wire = request.url.raw_path.decode("ascii")
        request.headers.update(
            auth_headers("GET", wire, user=self._user, api_key=self._key.get_secret_value(), now=self._clock)
        )
        response = send(self._http, request, partner=PARTNER, what=what)
        return decode_response(response, what=what, missing_ok=missing_ok, now=self._clock)

    def _get_list(
        self, path: str, query: Query | None, model: type[RecordT], *, what: str, missing_ok: bool = False
    ) -> list[RecordT]:
        body = self._get(path, query, what=what, missing_ok=missing_ok)
        if not isinstance(body, list):
            fail_shape(PARTNER, what, f"expected a JSON array, got {type(body).__name__}")
        try:
            return TypeAdapter(list[model]).validate_python(body)  # type: ignore[valid-type]
        except ValidationError as exc:
            raise PartnerDataError(f"{what}: {_describe(exc)}", partner=PARTNER) from exc


def _describe(exc: ValidationError) -> str:
    """Where the records failed validation, naming fields only: values may be personal data."""
    problems = [f"{'.'.join(str(p) for p in err['loc'])} ({err['type']})" for err in exc.errors()[:5]]
    more = f" and {exc.error_count() - 5} more" if exc.error_count() > 5 else ""
    return f"invalid records: {', '.join(problems)}{more}"


def _pages(fetch: Callable[[int], list[RecordT]], page_size: int, *, what: str) -> Iterator[RecordT]:
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    offset = 0
    previous: list[Any] | None = None
    while True:
        page = fetch(offset)
        ids = [getattr(record, "id", None) for record in page]
        if page and ids == previous:
            # A partner that ignores offset would otherwise hand us the same page forever.
            fail_shape(PARTNER, what, f"offset {offset} returned the same page again")
        yield from page
        if len(page) < page_size:
            return
        previous = ids
        offset += len(page)
