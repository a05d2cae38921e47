"""A partner's request budget, shared by every worker process on every host through Redis.

The window is the ``limits`` library's moving window on its Redis storage: every admitted call
is a timestamp in one Redis list, and a call is admitted only while fewer than ``requests`` of
them fall in the window. The check and the count are one Lua script, so two hosts never both
take the last slot. Each call is counted ``ARRIVAL_MARGIN`` longer than the partner's window:
the partner counts a call when it arrives, a little after eduhook counted it, and a slot freed
on the dot could otherwise land inside the partner's window.

A 429 from the partner pauses the budget until its ``Retry-After``: the partner is counting
calls eduhook did not make (another integration on the same token), and knows better.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from eduhook.settings import PartnerLimit

ARRIVAL_MARGIN = 1  # second; the window's granularity in ``limits``
# A 429 without a usable Retry-After pauses the budget this long.
DEFAULT_PAUSE = 10.0

# Keep the later of two pauses: a short Retry-After must not end a longer one early.
_PAUSE_SCRIPT = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""


@dataclass(frozen=True)
class Spent:
    """No call now: the budget has room again at ``until`` (epoch seconds)."""

    until: float
    reason: str


@dataclass(frozen=True)
class BudgetStatus:
    limit: PartnerLimit
    remaining: int
    paused_until: float | None


class Budget:
    """``limit`` for the partner labelled ``partner``; thread-safe, one per worker process.

    Times are the wall clock (``time.time``), which is what ``limits`` stamps its window with.
    """

    def __init__(
        self,
        partner: str,
        limit: PartnerLimit,
        client: redis.Redis,
        *,
        prefix: str = "eduhook:protection",
    ) -> None:
        self.partner = partner
        self.limit = limit
        self._redis = client
        self._item = RateLimitItemPerSecond(limit.requests, limit.per_seconds + ARRIVAL_MARGIN)
        storage = RedisStorage("redis://", connection_pool=client.connection_pool, key_prefix=prefix)
        self._window = MovingWindowRateLimiter(storage)
        self._pause_key = f"{prefix}:{partner}:paused-until"
        self._pause = client.register_script(_PAUSE_SCRIPT)

    def take(self, cost: int = 1) -> Spent | None:
        """Count ``cost`` calls now, or say when there is room; ``None`` means go ahead."""
        now = time.time()
        paused = self.paused_until()
        if paused is not None and paused > now:
            return Spent(paused, f"paused by the partner's 429 until {hms(paused)}")
        if self._window.hit(self._item, self.partner, cost=min(cost, self.limit.requests)):
            return None
        reset = self._window.get_window_stats(self._item, self.partner).reset_time
        until = max(reset, now)
        return Spent(until, f"request budget of {self.limit} spent until {hms(until)}")

    def pause(self, seconds: float | None) -> float:
        """Admit nothing for ``seconds`` (the partner's Retry-After); returns the pause's end."""
        wait = seconds if seconds is not None and seconds > 0 else DEFAULT_PAUSE
        until = time.time() + wait
        self._pause(keys=[self._pause_key], args=[repr(until), max(1, math.ceil(wait * 1000))])
        return until

    def paused_until(self) -> float | None:
        raw = self._redis.get(self._pause_key)
        return float(raw) if raw is not None else None

    def status(self) -> BudgetStatus:
        stats = self._window.get_window_stats(self._item, self.partner)
        paused = self.paused_until()
        live = paused if paused is not None and paused > time.time() else None
        return BudgetStatus(self.limit, stats.remaining, live)


def hms(moment: float) -> str:
    """An epoch time as UTC ``HH:MM:SS``, for log lines and messages."""
    return time.strftime("%H:%M:%S", time.gmtime(moment))
