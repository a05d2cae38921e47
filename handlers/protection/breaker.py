"""A partner's circuit breaker, shared by every worker process on every host through Redis.

    closed ──N consecutive failures──▶ open ──cool-down over──▶ half-open ──probe succeeds──▶ closed
                                        ▲                            │
                                        └──── probe fails: cool-down doubles (up to the max) ┘

While open, no call is made; while half-open, exactly one caller (the probe) is let through.
pybreaker's Redis storage keeps the same fields but changes them with separate GET/SET/INCR
calls, so two processes can both see the cool-down end and both probe, and its cool-down does
not grow. Here every transition is one Lua script over one Redis hash, so it is atomic across
processes: the first caller after the cool-down takes the probe, with a lease that outlasts any
one partner call (so a probe whose worker died is handed to someone else, never two at once).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import redis

from handlers.protection.budget import hms

log = logging.getLogger("eduhook.protection")

State = Literal["closed", "open", "half-open"]
CLOSED: State = "closed"
OPEN: State = "open"
HALF_OPEN: State = "half-open"

# KEYS[1]: the breaker's hash. ARGV: operation, now, failures to open, first and largest
# cool-down, probe lease (seconds). Returns {verdict, state before, time (until when)}.
_SCRIPT = """
local key, op, now = KEYS[1], ARGV[1], tonumber(ARGV[2])
local threshold, base, max = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local lease = tonumber(ARGV[6])
local state = redis.call('HGET', key, 'state') or 'closed'
local until_ = tonumber(redis.call('HGET', key, 'until') or '0')
local cooldown = tonumber(redis.call('HGET', key, 'cooldown') or ARGV[4])
if op == 'admit' then
  if state == 'closed' then return {'call', state, '0'} end
  if now < until_ then return {'wait', state, tostring(until_)} end
  redis.call('HSET', key, 'state', 'half-open', 'until', tostring(now + lease))
  return {'probe', state, tostring(now + lease)}
elseif op == 'release' then
  if state == 'half-open' then redis.call('HSET', key, 'state', 'open', 'until', tostring(now)) end
  return {'none', state, '0'}
elseif op == 'success' then
  if state == 'open' then return {'none', state, tostring(until_)} end
  if state == 'closed' and (tonumber(redis.call('HGET', key, 'failures') or '0')) == 0 then
    return {'none', state, '0'}
  end
  redis.call('HSET', key, 'state', 'closed', 'failures', '0', 'cooldown', ARGV[4])
  return {state == 'half-open' and 'closed' or 'none', state, '0'}
elseif op == 'failure' then
  if state == 'closed' then
    if redis.call('HINCRBY', key, 'failures', 1) < threshold then return {'none', state, '0'} end
    redis.call('HSET', key, 'state', 'open', 'until', tostring(now + base), 'cooldown', ARGV[4],
               'failures', '0')
    return {'opened', state, tostring(now + base)}
  elseif state == 'half-open' then
    local next = math.min(cooldown * 2, max)
    redis.call('HSET', key, 'state', 'open', 'until', tostring(now + next), 'cooldown', tostring(next))
    return {'opened', state, tostring(now + next)}
  end
  return {'none', state, tostring(until_)}
end
return {'none', state, tostring(until_)}
"""

# A caller that finds the probe in flight looks again this soon: most probes take well under a
# second, and waiting out the whole lease would keep events back long after the partner is fine.
PROBE_RECHECK = 1.0


@dataclass(frozen=True)
class Verdict:
    """``call``: go ahead; ``probe``: go ahead as the one probe; ``wait``: not before ``until``."""

    kind: Literal["call", "probe", "wait"]
    until: float = 0.0
    state: State = CLOSED


@dataclass(frozen=True)
class BreakerStatus:
    state: State
    until: float | None  # open: the cool-down's end; half-open: the probe's lease
    failures: int
    cooldown: float


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 5
    cooldown: float = 30.0
    max_cooldown: float = 300.0
    probe_lease: float = 40.0


class Breaker:
    """The breaker of the partner labelled ``partner``; thread-safe, one per worker process."""

    def __init__(
        self,
        partner: str,
        policy: BreakerPolicy,
        client: redis.Redis,
        *,
        prefix: str = "eduhook:protection",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.partner = partner
        self.policy = policy
        self.clock = clock
        self._redis = client
        self._key = f"{prefix}:{partner}:breaker"
        self._script = client.register_script(_SCRIPT)

    def admit(self) -> Verdict:
        verdict, before, until = self._run("admit")
        if verdict == "call":
            return Verdict("call")
        if verdict == "probe":
            log.warning("breaker %s: half-open, one call probes the partner", self.partner)
            return Verdict("probe", until, HALF_OPEN)
        if before == HALF_OPEN:  # someone else's probe is in flight
            return Verdict("wait", min(until, self.clock() + PROBE_RECHECK), HALF_OPEN)
        return Verdict("wait", until, OPEN)

    def release(self) -> None:
        """Give back a probe that was never sent (the budget refused it): the next caller probes."""
        self._run("release")

    def succeeded(self) -> None:
        verdict, _, _ = self._run("success")
        if verdict == "closed":
            log.warning("breaker %s: closed, the probe succeeded", self.partner)

    def failed(self) -> None:
        verdict, before, until = self._run("failure")
        if verdict != "opened":
            return
        if before == HALF_OPEN:
            log.warning("breaker %s: the probe failed; open again until %s", self.partner, hms(until))
        else:
            log.warning(
                "breaker %s: open until %s after %d consecutive failures",
                self.partner, hms(until), self.policy.failures,
            )  # fmt: skip

    def status(self) -> BreakerStatus:
        fields = {k.decode(): v.decode() for k, v in self._redis.hgetall(self._key).items()}  # type: ignore[union-attr]
        state: State = fields.get("state", CLOSED)  # type: ignore[assignment]
        until = float(fields.get("until", 0)) if state != CLOSED else None
        if state == OPEN and until is not None and until <= self.clock():
            state, until = HALF_OPEN, None  # the cool-down is over: the next caller probes
        return BreakerStatus(
            state=state,
            until=until,
            failures=int(fields.get("failures", 0)),
            cooldown=float(fields.get("cooldown", self.policy.cooldown)),
        )

    def _run(self, operation: str) -> tuple[str, State, float]:
        p = self.policy
        args: list[str | float] = [
            operation,
            self.clock(),
            p.failures,
            p.cooldown,
            p.max_cooldown,
            p.probe_lease,
        ]
        verdict, before, until = self._script(keys=[self._key], args=args)
        return verdict.decode(), before.decode(), float(until)
