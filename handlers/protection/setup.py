"""``Protection.from_settings``: each partner's guard in one worker process, and their status."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import redis

from eduhook.settings import PartnerLimit, Settings
from handlers.protection.breaker import Breaker, BreakerPolicy, BreakerStatus
from handlers.protection.budget import Budget, BudgetStatus
from handlers.protection.guard import GuardedTransport, PartnerGuard
from handlers.protection.metered import MeteredTransport

if TYPE_CHECKING:
    from handlers.context import HandlerContext

# Partner labels, as the clients and the error tree name them → their settings keys.
PARTNERS = {"eduframe": "eduframe", "pennfoster": "penn_foster", "appsembler": "appsembler"}
# A probe may take as long as one call can; its lease outlasts that.
PROBE_LEASE_MARGIN = 5.0


def protection_for(ctx: HandlerContext) -> Protection:
    """The worker process's ``Protection``, built on first use from the context's settings."""
    with _BUILD_LOCK:
        existing = ctx.services.get("protection")
        if not isinstance(existing, Protection):
            existing = ctx.services["protection"] = Protection.from_settings(ctx.settings)
        return existing


_BUILD_LOCK = threading.Lock()


@dataclass(frozen=True)
class PartnerStatus:
    partner: str
    limit: PartnerLimit | None
    budget: BudgetStatus | None
    breaker: BreakerStatus | None


@dataclass
class Protection:
    """The guards of every protected partner, built once per worker process."""

    guards: dict[str, PartnerGuard]

    @classmethod
    def from_settings(cls, settings: Settings, client: redis.Redis | None = None) -> Protection:
        """Budgets and breakers as configured, sharing state through ``client`` (or the Redis at
        ``EDUHOOK_REDIS_URL``). A process without Redis has nothing to share them with; a worker
        always has Redis (its broker), so only in-process tools run unprotected."""
        if client is None and settings.redis_url:
            client = redis.Redis.from_url(settings.redis_url)
        if client is None:
            return cls({label: PartnerGuard(label) for label in PARTNERS})
        policy = BreakerPolicy(
            failures=settings.breaker_failures,
            cooldown=settings.breaker_cooldown,
            max_cooldown=settings.breaker_max_cooldown,
            probe_lease=settings.http_connect_timeout + settings.http_read_timeout + PROBE_LEASE_MARGIN,
        )
        guards = {}
        for label, key in PARTNERS.items():
            limit = settings.partner_limit(key)
            guards[label] = PartnerGuard(
                label,
                budget=Budget(label, limit, client) if limit else None,
                breaker=Breaker(label, policy, client) if settings.breaker_enabled else None,
            )
        return cls(guards)

    def transport(self, partner: str, inner: httpx.BaseTransport | None = None) -> httpx.BaseTransport:
        """``inner`` (default: httpx's own), metered (``metered.py``), behind ``partner``'s guard
        when the partner is protected. Held-back calls are never sent, so never metered."""
        metered = MeteredTransport(partner, inner or httpx.HTTPTransport())
        guard = self.guards.get(partner)
        if guard is None or not guard.active:
            return metered
        return GuardedTransport(guard, metered)

    def precheck(self, partner: str | None) -> None:
        """See ``PartnerGuard.precheck``: for the partner that held an event back last time."""
        guard = self.guards.get(partner or "")
        if guard is not None:
            guard.precheck()

    def status(self) -> list[PartnerStatus]:
        return [
            PartnerStatus(
                partner=label,
                limit=guard.budget.limit if guard.budget else None,
                budget=guard.budget.status() if guard.budget else None,
                breaker=guard.breaker.status() if guard.breaker else None,
            )
            for label, guard in self.guards.items()
        ]
