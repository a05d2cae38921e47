"""Faults on demand for every sandbox: failing calls, 429s, delays, dropped connections, latency."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.types import ASGIApp, Receive, Scope, Send

FaultKind = Literal["status", "rate_limit", "delay", "drop"]


@dataclass
class Fault:
    """One rule: after letting ``skip`` matching calls through, applies to the next ``remaining``
    calls whose path starts with ``path`` (so a test can fail "the second batch").

    With ``probability`` below 1, each matching call is hit only with that chance, drawn from
    ``rng`` (seeded from ``seed``, so a run is repeatable); calls let through do not use up
    ``remaining``. A benchmark fails "20 % of learner calls at random" this way.
    """

    kind: FaultKind
    remaining: int = 1
    skip: int = 0
    path: str = ""
    method: str | None = None
    status: int = 503
    retry_after: int | None = None
    delay: float = 0.0
    probability: float = 1.0
    seed: int | None = None
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def matches(self, method: str, path: str) -> bool:
        if self.remaining <= 0 or not path.startswith(self.path):
            return False
        return self.method is None or self.method.upper() == method

    def fires(self) -> bool:
        """Whether this matching call is hit (always, unless ``probability`` is below 1)."""
        return self.probability >= 1.0 or self.rng.random() < self.probability

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Fault:
        kind = data.get("kind", "status")
        if kind not in ("status", "rate_limit", "delay", "drop"):
            raise ValueError(f"unknown fault kind {kind!r}")
        fault = cls(
            kind=kind,
            remaining=int(data.get("count", data.get("remaining", 1))),
            skip=int(data.get("skip", 0)),
            path=str(data.get("path", "")),
            method=data.get("method"),
            status=int(data.get("status", 429 if kind == "rate_limit" else 503)),
            retry_after=(int(data["retry_after"]) if data.get("retry_after") is not None else None),
            delay=float(data.get("delay", 0.0)),
            probability=float(data.get("probability", 1.0)),
            seed=(int(data["seed"]) if data.get("seed") is not None else None),
        )
        if fault.kind == "status" and not 400 <= fault.status <= 599:
            raise ValueError("status faults need a 4xx or 5xx status")
        if not 0.0 < fault.probability <= 1.0:
            raise ValueError("probability must be above 0 and at most 1")
        fault.rng.seed(fault.seed)
        return fault

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "remaining": self.remaining,
            "skip": self.skip,
            "path": self.path,
            "method": self.method,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "probability": self.probability,
            "seed": self.seed,
        }


@dataclass
class FaultPlan:
    """The faults waiting to fire and the fixed latency added to every partner call."""

    faults: list[Fault] = field(default_factory=list)
    latency: float = 0.0

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, path):
                if fault.skip > 0:
                    fault.skip -= 1
                    continue
                if not fault.fires():
                    continue
                fault.remaining -= 1
                return fault
        return None

    def clear(self) -> None:
        self.faults.clear()
        self.latency = 0.0


class FaultMiddleware:
    """ASGI middleware applying a ``FaultPlan`` to every path outside ``/_sandbox``."""

    def __init__(self, app: ASGIApp, plan: FaultPlan) -> None:
        self.app = app
        self.plan = plan

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        if self.plan.latency > 0:
            await asyncio.sleep(self.plan.latency)
        fault = self.plan.take(scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.kind == "delay":
            await asyncio.sleep(fault.delay)
            await self.app(scope, receive, send)
            return
        if fault.kind == "drop":
            # Start a response promising a body, then abort: the client sees the connection drop.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"64")],
                }
            )
            raise ConnectionAbortedError("sandbox fault: dropped connection")
        headers = [(b"content-type", b"application/json")]
        if fault.retry_after is not None:
            headers.append((b"retry-after", str(fault.retry_after).encode()))
        body = b'{"message": "sandbox fault injected"}'
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": fault.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
