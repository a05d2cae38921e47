"""The benchmark's handler module (``EDUHOOK_HANDLER_MODULES=bench.handlers``).

It handles ``order.approved`` so the receiver records events as ``received`` and pushes them to
the broker (an unhandled type would be ``ignored`` and never queued). When a worker runs it, it
records the wall-clock time it started each event in the Redis hash ``bench:started``, which the
benchmark compares with the time the webhook's 2xx arrived.
"""

from __future__ import annotations

import time

import redis

from eduhook.ledger import EventRecord
from handlers.context import HandlerContext
from handlers.registry import HandlerRegistry, HandlerResult

STARTED_KEY = "bench:started"


def _client(ctx: HandlerContext) -> redis.Redis:
    client = ctx.services.get("bench_redis")
    if client is None:
        if not ctx.settings.redis_url:
            raise RuntimeError("the benchmark worker runs with EDUHOOK_REDIS_URL set")
        client = redis.Redis.from_url(ctx.settings.redis_url)
        ctx.services["bench_redis"] = client
    assert isinstance(client, redis.Redis)
    return client


def record_start(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    started = time.time()
    _client(ctx).hset(STARTED_KEY, event.id, repr(started))
    return HandlerResult()


def register(registry: HandlerRegistry) -> None:
    registry.register("order.approved", record_start)
