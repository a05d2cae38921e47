"""Protection of the partners: a request budget and a circuit breaker per partner, in Redis.

    budget.py   the shared moving window (``limits``) and the pause a 429 sets
    breaker.py  the shared breaker: closed → open → half-open (one probe) → closed
    guard.py    the httpx transport that asks both before every call: ``DeferredError`` if not now
    setup.py    ``Protection.from_settings``: the guards of one worker process, and their status
    metered.py  the transport under the guard that counts and times every request sent (metrics)
    gauges.py   ``eduhook_breaker_state``, read from Redis when a worker's /metrics is scraped

Both are shared by every worker process on every host, so the limits hold for the deployment
as a whole. A call held back is never sent: the event is rescheduled to when the partner may be
called again, without using an attempt (``workers/processor.py``).
"""

from handlers.protection.guard import GuardedTransport, PartnerGuard, attempt_scope
from handlers.protection.setup import PARTNERS, PartnerStatus, Protection, protection_for

__all__ = [
    "PARTNERS",
    "GuardedTransport",
    "PartnerGuard",
    "PartnerStatus",
    "Protection",
    "attempt_scope",
    "protection_for",
]
