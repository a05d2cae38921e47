"""What ``eduhook status`` looks at, each part on its own (one unreachable part never hides the
others), and the rules that say whether something needs attention."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from eduhook.ledger.overview import Overview
    from eduhook.settings import Settings
    from handlers.protection import PartnerStatus

OK = "ok"


@dataclass(frozen=True)
class Worker:
    name: str
    concurrency: int | None  # the pool's processes or threads, as the worker reports it


@dataclass
class Health:
    """Every part's state; a part that could not be read says why, in ``receiver`` etc."""

    now: dt.datetime
    max_pending_age: float
    receiver_url: str
    receiver: str = "not checked"
    receiver_checks: dict[str, str] = field(default_factory=dict)
    redis: str = "not checked"
    ledger: str = "not checked"
    workers: list[Worker] | None = None  # None: not asked (Redis unreachable)
    partners: list[PartnerStatus] = field(default_factory=list)
    queue_depth: int | None = None
    overview: Overview | None = None

    @property
    def oldest_pending_seconds(self) -> float | None:
        return None if self.overview is None else self.overview.oldest_pending_seconds(self.now)

    def problems(self) -> list[str]:
        """The rules (README "Observability", ``eduhook status --help``): each is one line."""
        found = []
        if self.receiver != "ready":
            found.append(f"receiver at {self.receiver_url}: {self.receiver}")
        if self.ledger != OK:
            found.append(f"ledger: {self.ledger}")
        if self.redis != OK:
            found.append(f"Redis: {self.redis}")
        if self.workers == []:
            found.append("no worker answered the ping")
        for partner in self.partners:
            if partner.breaker is not None and partner.breaker.state == "open":
                found.append(f"{partner.partner}: circuit breaker open")
        age = self.oldest_pending_seconds
        if age is not None and age > self.max_pending_age:
            found.append(f"oldest pending event waited {age:.0f} s (limit {self.max_pending_age:g} s)")
        if self.overview is not None and self.overview.dead:
            found.append(f"{self.overview.dead} dead letters (eduhook dlq list)")
        return found


def gather(settings: Settings, *, timeout: float) -> Health:
    health = Health(
        now=dt.datetime.now(dt.UTC),
        max_pending_age=settings.status_max_pending_age,
        receiver_url=settings.effective_receiver_url,
    )
    _receiver(health, timeout)
    _ledger(health, settings)
    _redis(health, settings, timeout)
    return health


def _receiver(health: Health, timeout: float) -> None:
    import httpx

    try:
        response = httpx.get(health.receiver_url + "/readyz", timeout=timeout)
        answer: Any = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        health.receiver = f"unreachable ({type(exc).__name__})"
        return
    checks = answer.get("checks") if isinstance(answer, dict) else None
    health.receiver_checks = {str(k): str(v) for k, v in (checks or {}).items()}
    health.receiver = "ready" if response.status_code == 200 else f"not ready (HTTP {response.status_code})"


def _ledger(health: Health, settings: Settings) -> None:
    from eduhook.ledger import create_engine_for
    from eduhook.ledger.overview import overview

    engine = create_engine_for(settings.effective_database_url)
    try:
        health.overview = overview(engine, health.now)
        health.ledger = OK
    except Exception as exc:  # any database failure is reported, not raised
        health.ledger = f"unreachable ({type(exc).__name__}; run `eduhook db upgrade`?)"
    finally:
        engine.dispose()


def _redis(health: Health, settings: Settings, timeout: float) -> None:
    import redis

    from eduhook.runtime import resolve_redis
    from handlers.protection import Protection
    from workers.messages import DEFAULT_QUEUE

    handle = resolve_redis(settings)
    client = redis.Redis.from_url(handle.url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        client.ping()
        health.partners = Protection.from_settings(settings, client).status()
        health.queue_depth = int(client.llen(DEFAULT_QUEUE))
        health.redis = OK
        health.workers = _workers(settings, handle.url, timeout)
    except redis.RedisError as exc:
        health.redis = f"unreachable ({type(exc).__name__})"
    finally:
        client.close()
        handle.stop()


def _workers(settings: Settings, redis_url: str, timeout: float) -> list[Worker]:
    """Celery's ping, then each answering worker's pool size from its stats."""
    from workers.app import create_celery

    app = create_celery(settings, redis_url=redis_url)
    try:
        inspect = app.control.inspect(timeout=timeout)
        alive = sorted((inspect.ping() or {}).keys())
        if not alive:
            return []
        stats = app.control.inspect(timeout=timeout, destination=alive).stats() or {}
        return [Worker(name, _concurrency(stats.get(name))) for name in alive]
    finally:
        app.close()


def _concurrency(stats: Any) -> int | None:
    pool = stats.get("pool") if isinstance(stats, dict) else None
    value = pool.get("max-concurrency") if isinstance(pool, dict) else None
    return value if isinstance(value, int) else None
