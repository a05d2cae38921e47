"""Handlers the tests register in real worker processes (EDUHOOK_HANDLER_MODULES=tests.support.handlers)."""

from __future__ import annotations

import os
import signal

import redis

from eduhook.ledger import EventRecord
from handlers.context import HandlerContext
from handlers.errors import PermanentError, TransientError
from handlers.registry import HandlerRegistry, HandlerResult


def _redis(ctx: HandlerContext) -> redis.Redis:
    assert ctx.settings.redis_url, "the worker runs with EDUHOOK_REDIS_URL set"
    return redis.Redis.from_url(ctx.settings.redis_url)


def succeed(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    _redis(ctx).rpush("test:handled", event.id)
    return HandlerResult()


def skip(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    return HandlerResult.ignored("nothing to do for this test event")


def fail_permanently(event: EventRecord, ctx: HandlerContext) -> None:
    raise PermanentError("student 42 has no phone number", partner="penn_foster", partner_code="E600000001")


def fail_transiently(event: EventRecord, ctx: HandlerContext) -> None:
    raise TransientError("partner busy", retry_after=30, partner="appsembler", status_code=503)


def crash(event: EventRecord, ctx: HandlerContext) -> None:
    raise KeyError("jane@example.com")  # the message must not reach the ledger


def block_first_time(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    """Announces it started, then on the first attempt waits to be killed; later attempts finish."""
    client = _redis(ctx)
    attempt = client.incr(f"test:attempts:{event.id}")
    client.rpush("test:started", f"{event.id}:{attempt}")
    if attempt == 1:
        client.blpop([f"test:release:{event.id}"], timeout=60)
    client.rpush("test:handled", event.id)
    return HandlerResult()


def flaky(event: EventRecord, ctx: HandlerContext) -> HandlerResult:
    """Fails transiently as often as ``event_data.failures`` says, then succeeds."""
    client = _redis(ctx)
    attempt = client.incr(f"test:attempts:{event.id}")
    if attempt <= int(event.data.get("failures", 1)):
        raise TransientError("partner busy", partner="appsembler", status_code=503)
    client.rpush("test:handled", event.id)
    return HandlerResult()


def kill_worker(event: EventRecord, ctx: HandlerContext) -> None:
    """Takes its whole worker process down, as a segfaulting library would (a poison event)."""
    _redis(ctx).rpush("test:started", event.id)
    os.kill(os.getpid(), signal.SIGKILL)


def register(registry: HandlerRegistry) -> None:
    registry.register("test.flaky", flaky)
    registry.register("test.kill", kill_worker)
    registry.register("test.succeed", succeed)
    registry.register("order.approved", succeed)
    registry.register("test.skip", skip)
    registry.register("test.permanent", fail_permanently)
    registry.register("test.transient", fail_transiently)
    registry.register("test.crash", crash)
    registry.register("test.block", block_first_time)
