"""``POST /webhooks/eduframe``: the checks, in order, then the durable record and the queue."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter
from starlette.requests import Request
from starlette.responses import Response

from eduhook.ledger import NewEvent
from eduhook.ledger.schema import IGNORED, RECEIVED
from eduhook.logs import set_log_context
from handlers.registry import HandlerRegistry
from receiver.auth import TooManyTokens, presented_token, token_accepted
from receiver.body import BodyTooLarge, BodyTooSlow, ClientGone, read_body
from receiver.envelope import EnvelopeError, parse_envelope
from receiver.intake import EventRefused, Intake, LedgerUnavailable

log = logging.getLogger("eduhook.receiver")

Answer = tuple[int, dict[str, Any], dict[str, str] | None]


def json_response(data: object, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


@dataclass
class WebhookEndpoint:
    """Everything the request path needs, prepared once when the app is built."""

    tokens: Sequence[bytes]
    educators: frozenset[str]
    max_body_bytes: int
    body_timeout: float
    handlers: HandlerRegistry
    clock: Callable[[], dt.datetime]
    metrics: CollectorRegistry
    # The longest a request waits for the ledger, from its start: Eduframe gives up at 10 s.
    deadline_seconds: float = 8.0
    intake: Intake | None = None  # set by the app's lifespan

    def __post_init__(self) -> None:
        self.answers = Counter(
            "eduhook_webhooks", "Webhook requests by answer", ["status"], registry=self.metrics
        )

    async def handle(self, request: Request) -> Response:
        try:
            status, body, headers = await self.answer(request)
        except Exception:  # a defect: logged once with its traceback, answered without details
            log.exception("unexpected error answering a webhook")
            status, body, headers = 500, {"error": "internal error"}, None
        self.answers.labels(str(status)).inc()
        return json_response(body, status, headers)

    async def answer(self, request: Request) -> Answer:
        started = asyncio.get_running_loop().time()
        try:
            raw = await read_body(request, limit=self.max_body_bytes, within=self.body_timeout)
        except BodyTooLarge:
            return 413, {"error": f"body larger than {self.max_body_bytes} bytes"}, None
        except BodyTooSlow:
            slow = f"body not received within {self.body_timeout:g} s"
            return 408, {"error": slow}, {"Connection": "close"}
        except ClientGone:  # nginx's "client closed request": counted, never sent
            return 499, {"error": "client disconnected"}, None
        try:
            token = presented_token(request)
        except TooManyTokens:
            return 401, {"error": "present the webhook token once, in the query or the header"}, None
        if not token_accepted(token, self.tokens):
            return 401, {"error": "missing or invalid webhook token"}, None
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return 400, {"error": "body is not valid JSON"}, None
        try:
            envelope = parse_envelope(document)
        except EnvelopeError as exc:
            return 422, {"error": "invalid webhook envelope", "fields": exc.fields}, None
        # The request's own task: uvicorn's access line for it carries these too (eduhook/logs.py).
        set_log_context(event_type=envelope.event, educator=envelope.educator)
        if self.educators and envelope.educator not in self.educators:
            return 403, {"error": "educator not accepted by this eduhook"}, None

        wanted = self.handlers.handles(envelope.event)
        event = NewEvent(
            id=str(uuid.uuid4()),
            educator=envelope.educator,
            tenant_id=envelope.tenant_id,
            event_type=envelope.event,
            dedup_key=envelope.dedup_key,
            payload=raw.decode("utf-8"),  # stored as received; orjson has checked it is UTF-8 JSON
            status=RECEIVED if wanted else IGNORED,
            status_reason=None if wanted else f"no handler for event type {envelope.event}",
            received_at=self.clock(),
        )
        remaining = self.deadline_seconds - (asyncio.get_running_loop().time() - started)
        try:
            if self.intake is None:
                raise LedgerUnavailable("receiver not started")
            accepted = await asyncio.wait_for(self.intake.submit(event), timeout=max(remaining, 0.001))
        except EventRefused:
            return (
                422,
                {
                    "error": "the ledger cannot store this event",
                    "fields": {"body": "refused by the database"},
                },
                None,
            )
        except (LedgerUnavailable, TimeoutError):
            # Not recorded in time: Eduframe retries, and a late write makes that a duplicate.
            return 503, {"error": "ledger unavailable, retry later"}, {"Retry-After": "5"}
        stored = accepted.stored
        set_log_context(event_id=stored.id)
        if stored.duplicate:
            return 200, {"event_id": stored.id, "status": "duplicate"}, None
        if stored.status == IGNORED:
            return 202, {"event_id": stored.id, "status": "ignored"}, None
        return 202, {"event_id": stored.id, "status": "queued" if accepted.queued else "received"}, None
