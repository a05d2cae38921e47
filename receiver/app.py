"""``create_app(settings)``: the receiver's routes, and the lifespan that owns its connections."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable, Sequence

import redis
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from eduhook.ledger import EventLedger, create_engine_for
from eduhook.metrics_http import CHALLENGE, UNAUTHORIZED_BODY, token_accepted
from eduhook.settings import Settings
from handlers.registry import HandlerRegistry, load_registry
from receiver.collector import LedgerCollector
from receiver.intake import Intake
from receiver.webhook import WebhookEndpoint, json_response
from workers.messages import DEFAULT_QUEUE, process_event_message

log = logging.getLogger("eduhook.receiver")
# /readyz answers within about this long, whatever the ledger and Redis are doing.
READY_TIMEOUT = 1.0


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_app(
    settings: Settings,
    *,
    redis_url: str,
    registry: HandlerRegistry | None = None,
    clock: Callable[[], dt.datetime] = _utc_now,
    queue: str = DEFAULT_QUEUE,
) -> Starlette:
    """Build the receiver. The engine, the Redis client and the intake loop live in the lifespan."""
    if not settings.webhook_tokens:
        raise ValueError("EDUHOOK_WEBHOOK_TOKENS is empty: set at least one webhook token")
    metrics = CollectorRegistry()
    webhook = WebhookEndpoint(
        tokens=settings.token_values(),
        educators=frozenset(settings.educators),
        max_body_bytes=settings.max_body_bytes,
        body_timeout=settings.body_timeout,
        handlers=registry if registry is not None else load_registry(settings.handler_modules),
        clock=clock,
        metrics=metrics,
        deadline_seconds=settings.receiver_deadline,
    )
    # A write waits for another writer's lock no longer than a request may wait for the ledger.
    ledger = EventLedger(
        create_engine_for(settings.effective_database_url, lock_wait_seconds=settings.receiver_deadline)
    )
    broker = aioredis.Redis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=3)
    # The scrape-time gauges read the ledger and the queue from a thread, with their own client.
    scrape_broker = redis.Redis.from_url(redis_url, socket_timeout=1, socket_connect_timeout=1)
    metrics.register(LedgerCollector(ledger.engine, scrape_broker, queue, clock))

    async def publish(events: Sequence[tuple[str, str]]) -> None:
        messages = [process_event_message(i, event_type=t, queue=queue) for i, t in events]
        await broker.lpush(queue, *messages)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        intake = Intake(ledger, publish, clock=clock)
        await intake.start()
        webhook.intake = intake
        if not webhook.educators:
            log.warning("EDUHOOK_EDUCATORS is empty: webhooks from any educator are accepted")
        try:
            yield
        finally:
            webhook.intake = None
            await intake.stop()
            await broker.aclose()
            scrape_broker.close()
            ledger.engine.dispose()

    async def healthz(request: Request) -> Response:
        return json_response({"status": "ok"}, 200)

    async def ledger_check() -> str:
        intake = webhook.intake
        if intake is None:
            return "unavailable (not started)"
        busy = intake.busy_for()
        if busy is not None and busy > READY_TIMEOUT:
            return f"busy (a write has waited {busy:.1f} s)"
        # Off the ledger thread, which may be waiting on a lock: a read answers beside a writer.
        await asyncio.wait_for(asyncio.to_thread(ledger.ping), READY_TIMEOUT)
        return "ok"

    async def redis_check() -> str:
        await asyncio.wait_for(broker.ping(), READY_TIMEOUT)
        return "ok"

    async def readyz(request: Request) -> Response:
        names = ("ledger", "redis")
        results = await asyncio.gather(ledger_check(), redis_check(), return_exceptions=True)
        checks = {
            name: result if isinstance(result, str) else f"unavailable ({type(result).__name__})"
            for name, result in zip(names, results, strict=True)
        }
        ready = all(v == "ok" for v in checks.values())
        return json_response(
            {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
        )

    async def metrics_endpoint(request: Request) -> Response:
        if not token_accepted(request.headers.get("authorization"), settings.metrics_token):
            return Response(UNAUTHORIZED_BODY, 401, media_type="application/json", headers=dict([CHALLENGE]))
        body = await asyncio.to_thread(generate_latest, metrics)  # the gauges query the ledger
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[
            Route("/webhooks/eduframe", webhook.handle, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
