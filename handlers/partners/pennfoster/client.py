"""``PennFosterClient``: learners, leads, cancel requests and organization lookups over httpx."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
import redis
from pydantic import BaseModel, SecretStr, ValidationError

from eduhook.settings import Settings
from handlers.errors import ConfigurationError
from handlers.partners._http import Clock, PartnerClient, fail_shape, json_body, make_client, send
from handlers.partners.pennfoster.error_map import PARTNER, check_response, not_found
from handlers.partners.pennfoster.fields import REVEAL_SECRETS
from handlers.partners.pennfoster.lead_request import LeadRequest
from handlers.partners.pennfoster.learner_request import LearnerRequest
from handlers.partners.pennfoster.responses import (
    CancelRequest,
    CancelResult,
    LeadResult,
    LearnerPage,
    LearnerRecord,
    LearnerResult,
    Organization,
)
from handlers.partners.pennfoster.token import (
    DEFAULT_MARGIN,
    CachedToken,
    MemoryTokenCache,
    RedisTokenCache,
    TokenCache,
    TokenSource,
)

MAX_BATCH = 20
# One learner's records (one per program) fit one page; the bound stops a partner that never ends.
LOOKUP_ROWS = 100
MAX_LOOKUP_PAGES = 10
Model = TypeVar("Model", bound=BaseModel)


def _parse(model: type[Model], data: Any, *, what: str) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # Locations only: hide_input_in_errors keeps values out, and so do we.
        fields = ", ".join(".".join(str(p) for p in err["loc"]) or "<root>" for err in exc.errors())
        fail_shape(PARTNER, what, f"invalid {model.__name__}: {fields}")


def _body(items: Sequence[BaseModel]) -> list[dict[str, Any]]:
    # The only dump that reveals payment secrets: the one that goes over the wire.
    return [item.model_dump(mode="json", exclude_none=True, context={REVEAL_SECRETS: True}) for item in items]


class PennFosterClient(PartnerClient):
    """Penn Foster's B2B API. Every call carries a bearer token shared through ``token_cache``;
    a 401 drops that token, fetches a new one and repeats the call once.

    Lookups answer ``None``/empty when Penn Foster says 404, since "no such learner" is a normal
    answer there; organization lookups raise ``PermanentError`` on 404 (they check configuration).
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        client_id: str,
        client_secret: SecretStr,
        api_key: SecretStr,
        token_cache: TokenCache,
        learners_prefix: str = "/api/v4/b2b",
        leads_prefix: str = "/api/v3/b2b",
        clock: Clock = time.time,
        token_margin: float = DEFAULT_MARGIN,
    ) -> None:
        self._http = http
        self._clock = clock
        self._learners = learners_prefix.rstrip("/")
        self._leads = leads_prefix.rstrip("/")
        self.tokens = TokenSource(
            http,
            client_id=client_id,
            client_secret=client_secret,
            api_key=api_key,
            cache=token_cache,
            clock=clock,
            margin=token_margin,
        )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        token_cache: TokenCache | None = None,
        clock: Clock = time.time,
    ) -> PennFosterClient:
        """Build from settings; tokens go to Redis (``EDUHOOK_REDIS_URL``) unless a cache is given."""
        missing = [
            env
            for env, value in (
                ("PENNFOSTER_CLIENT_ID", settings.pennfoster_client_id),
                ("PENNFOSTER_CLIENT_SECRET", settings.pennfoster_client_secret),
                ("PENNFOSTER_API_KEY", settings.pennfoster_api_key),
            )
            if not value
        ]
        if missing:
            raise ConfigurationError(f"Penn Foster needs {', '.join(missing)}", partner=PARTNER)
        assert settings.pennfoster_client_id and settings.pennfoster_client_secret
        assert settings.pennfoster_api_key
        if token_cache is None:
            token_cache = (
                RedisTokenCache(redis.Redis.from_url(settings.redis_url))
                if settings.redis_url
                else MemoryTokenCache()
            )
        http = make_client(
            settings.pennfoster_api_url,
            connect_timeout=settings.http_connect_timeout,
            read_timeout=settings.http_read_timeout,
            transport=transport,
        )
        return cls(
            http,
            client_id=settings.pennfoster_client_id,
            client_secret=settings.pennfoster_client_secret,
            api_key=settings.pennfoster_api_key,
            token_cache=token_cache,
            learners_prefix=settings.pennfoster_learners_prefix,
            leads_prefix=settings.pennfoster_leads_prefix,
            clock=clock,
        )

    # Transport ---------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        allow_404: bool = False,
    ) -> httpx.Response | None:
        """Send with a bearer token; one refresh-and-retry on 401; non-2xx mapped to errors."""
        response = self._send_with(self.tokens.current(), method, path, what, json, params)
        if response.status_code == 401:
            response = self._send_with(self.tokens.current(), method, path, what, json, params)
        if allow_404 and not_found(response):
            return None
        check_response(response, what=what, now=self._clock)
        return response

    def _send_with(
        self, token: CachedToken, method: str, path: str, what: str, json: Any, params: dict[str, Any] | None
    ) -> httpx.Response:
        request = self._http.build_request(
            method,
            path,
            json=json,
            params=params,
            headers={"Authorization": f"Bearer {token.access_token.get_secret_value()}"},
        )
        response = send(self._http, request, partner=PARTNER, what=what)
        if response.status_code == 401:
            self.tokens.reject(token)
        return response

    def _json(self, response: httpx.Response, what: str) -> Any:
        return json_body(response, partner=PARTNER, what=what)

    # Learners and leads ------------------------------------------------------------------------

    def create_learners(self, learners: Sequence[LearnerRequest]) -> list[LearnerResult]:
        """Enroll up to 20 learners; one result per learner, in the order sent. Classify each
        with ``error_map.classify_learner_result``, or use ``enrollment.enroll_learners``."""
        what = "create learners"
        data = self._post_batch(f"{self._learners}/learners", learners, what)
        return [_parse(LearnerResult, item, what=what) for item in data]

    def create_leads(self, leads: Sequence[LeadRequest]) -> list[LeadResult]:
        """Create up to 20 leads (sent as a flat array); one result per lead, in the order sent."""
        what = "create leads"
        data = self._post_batch(f"{self._leads}/leads", leads, what)
        return [_parse(LeadResult, item, what=what) for item in data]

    def _post_batch(self, path: str, items: Sequence[BaseModel], what: str) -> list[Any]:
        if not items:
            raise ValueError(f"{what}: nothing to send")
        if len(items) > MAX_BATCH:
            raise ValueError(f"{what}: {len(items)} items, Penn Foster accepts at most {MAX_BATCH}")
        response = self._call("POST", path, what=what, json=_body(items))
        assert response is not None
        data = self._json(response, what)
        # "The response will be an object or an array of objects depending on the request."
        if isinstance(data, dict) and len(items) == 1:
            data = [data]
        if not isinstance(data, list):
            fail_shape(PARTNER, what, "expected an array of results")
        if len(data) != len(items):
            fail_shape(PARTNER, what, f"{len(data)} results for {len(items)} items")
        return data

    # Lookups -----------------------------------------------------------------------------------

    def find_learners_by_alternate_id(self, alternate_id: str) -> list[LearnerRecord]:
        """Every record Penn Foster holds under ``alternate_id``, from every page (empty when none).

        A learner comes back once per program it is or was in, each record with its own
        ``program_id`` and ``active_status``: this is how eduhook tells "this learner is known"
        from "this learner is in this program".
        """
        what = "find learner by alternate id"
        found: list[LearnerRecord] = []
        for page_number in range(1, MAX_LOOKUP_PAGES + 1):
            params = {"alternate_id": alternate_id, "page_number": page_number, "rows_per_page": LOOKUP_ROWS}
            page = self._learner_page(params, what=what)
            if page is None:
                break
            found += page.results
            if page_number >= page.page_count or not page.results:
                break
        else:
            fail_shape(PARTNER, what, f"more than {MAX_LOOKUP_PAGES} pages for one alternate id")
        return found

    def get_learner(self, student_id: str) -> LearnerRecord | None:
        """The learner with Penn Foster ``student_id``, or ``None``."""
        what = "get learner by student id"
        response = self._call(
            "GET", f"{self._learners}/learners", what=what, params={"student_id": student_id}, allow_404=True
        )
        if response is None:
            return None
        data = self._json(response, what)
        if isinstance(data, dict) and "results" in data:  # a page, like the other lookups
            results = _parse(LearnerPage, data, what=what).results
            return results[0] if results else None
        return _parse(LearnerRecord, data, what=what)

    def list_learners(
        self, organization_id: int, *, page_number: int = 1, rows_per_page: int = 100
    ) -> LearnerPage:
        """One page of an organization's learners; an unknown organization gives an empty page."""
        params = {
            "organization_id": organization_id,
            "page_number": page_number,
            "rows_per_page": rows_per_page,
        }
        page = self._learner_page(params, what="list learners")
        return page if page is not None else LearnerPage(page_number=page_number, page_count=0)

    def _learner_page(self, params: dict[str, Any], *, what: str) -> LearnerPage | None:
        response = self._call("GET", f"{self._learners}/learners", what=what, params=params, allow_404=True)
        if response is None:
            return None
        return _parse(LearnerPage, self._json(response, what), what=what)

    def cancel_learner(self, cancel: CancelRequest) -> CancelResult:
        """Ask Penn Foster to cancel a learner; Penn Foster staff carry it out later."""
        what = "cancel learner"
        body = cancel.model_dump(mode="json", exclude_none=True)
        response = self._call("POST", f"{self._learners}/learners/cancel", what=what, json=body)
        assert response is not None
        return _parse(CancelResult, self._json(response, what), what=what)

    def get_organization(
        self, organization_id: int, location_id: int | None = None, client_id: int | None = None
    ) -> Organization:
        """The organization tree, narrowed to a location (and client) when given."""
        if client_id is not None and location_id is None:
            raise ValueError("a client lookup needs its location_id")
        path = f"{self._leads}/organizations/{organization_id}"
        if location_id is not None:
            path += f"/locations/{location_id}"
        if client_id is not None:
            path += f"/clients/{client_id}"
        what = "get organization"
        response = self._call("GET", path, what=what)
        assert response is not None
        return _parse(Organization, self._json(response, what), what=what)
