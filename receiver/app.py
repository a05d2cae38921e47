"""The receiver's Starlette app: ``POST /webhooks/eduframe``, health, readiness and metrics."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import orjson
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from eduhook.ledger import EventLedger, NewEvent, create_engine_for
from eduhook.ledger.schema import IGNORED, RECEIVED
from eduhook.settings import Settings
from handlers.registry import HandlerRegistry, load_registry
from receiver.auth import presented_token, token_accepted
from receiver.envelope import EnvelopeError, parse_envelope
from receiver.intake import Intake, LedgerUnavailable
from workers.messages import DEFAULT_QUEUE, process_event_message

log = logging.getLogger("eduhook.receiver")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _json(data: object, status: int, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


class BodyTooLarge(Exception):
    pass


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass
class ReceiverConfig:
    """The parts of settings the request path needs, prepared once."""

    tokens: Sequence[bytes]
    educators: frozenset[str]
    max_body_bytes: int
    queue: str = DEFAULT_QUEUE


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter(
            "eduhook_webhooks", "Webhook requests by answer", ["status"], registry=self.registry
        )


def create_app(
    settings: Settings,
    *,
    redis_url: str,
    registry: HandlerRegistry | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
) -> Starlette:
    """Build the receiver. Engine, Redis client and intake loop live in the app's lifespan."""
    if not settings.webhook_tokens:
        raise ValueError("EDUHOOK_WEBHOOK_TOKENS is empty: set at least one webhook token")
    config = ReceiverConfig(
        tokens=settings.token_values(),
        educators=frozenset(settings.educators),
        max_body_bytes=settings.max_body_bytes,
    )
    handlers = registry if registry is not None else load_registry(settings.handler_modules)
    metrics = Metrics()
    state: dict[str, object] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine_for(settings.effective_database_url)
        ledger = EventLedger(engine)
        broker = aioredis.Redis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=3)

        async def publish(event_ids: Sequence[str]) -> None:
            await broker.lpush(
                config.queue, *[process_event_message(i, queue=config.queue) for i in event_ids]
            )

        intake = Intake(ledger, publish, clock=clock)
        await intake.start()
        state.update(ledger=ledger, broker=broker, intake=intake)
        if not config.educators:
            log.warning("EDUHOOK_EDUCATORS is empty: webhooks from any educator are accepted")
        try:
            yield
        finally:
            await intake.stop()
            await broker.aclose()
            engine.dispose()

    async def eduframe_webhook(request: Request) -> Response:
        status, body, headers = await _handle(request)
        metrics.webhooks.labels(str(status)).inc()
        return _json(body, status, headers)

    async def _handle(request: Request) -> tuple[int, dict[str, object], dict[str, str] | None]:
        try:
            raw = await _read_limited(request, config.max_body_bytes)
        except BodyTooLarge:
            return 413, {"error": f"body larger than {config.max_body_bytes} bytes"}, None
        if not token_accepted(presented_token(request), config.tokens):
            return 401, {"error": "missing or invalid webhook token"}, None
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return 400, {"error": "body is not valid JSON"}, None
        try:
            envelope = parse_envelope(document)
        except EnvelopeError as exc:
            return 422, {"error": "invalid webhook envelope", "fields": exc.fields}, None
        if config.educators and envelope.educator not in config.educators:
            return 403, {"error": "educator not accepted by this eduhook"}, None

        wanted = handlers.handles(envelope.event)
        event = NewEvent(
            id=str(uuid.uuid4()),
            educator=envelope.educator,
            tenant_id=envelope.tenant_id,
            event_type=envelope.event,
            dedup_key=envelope.dedup_key,
            payload=envelope.raw,
            status=RECEIVED if wanted else IGNORED,
            status_reason=None if wanted else f"no handler for event type {envelope.event}",
            received_at=clock(),
        )
        intake: Intake = state["intake"]  # type: ignore[assignment]
        try:
            accepted = await intake.submit(event)
        except LedgerUnavailable:
            return 503, {"error": "ledger unavailable, retry later"}, {"Retry-After": "5"}
        stored = accepted.stored
        if stored.duplicate:
            return 200, {"event_id": stored.id, "status": "duplicate"}, None
        if stored.status == IGNORED:
            return 202, {"event_id": stored.id, "status": "ignored"}, None
        return 202, {"event_id": stored.id, "status": "queued" if accepted.queued else "received"}, None

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"}, 200)

    async def readyz(request: Request) -> Response:
        checks: dict[str, str] = {}
        ledger: EventLedger = state["ledger"]  # type: ignore[assignment]
        intake: Intake = state["intake"]  # type: ignore[assignment]
        broker: aioredis.Redis = state["broker"]  # type: ignore[assignment]
        try:
            await intake.run_in_db_thread(ledger.ping)
            checks["ledger"] = "ok"
        except Exception as exc:
            checks["ledger"] = f"unavailable ({type(exc).__name__})"
        try:
            await broker.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"unavailable ({type(exc).__name__})"
        ready = all(v == "ok" for v in checks.values())
        return _json({"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/webhooks/eduframe", eduframe_webhook, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
