"""What keeps the console private: security headers, CSRF tokens, and slowed-down failed logins.

The CSRF token lives in the signed session cookie and is compared with ``hmac.compare_digest``;
a login rotates it. Failed logins are counted in Redis per user name and per address: from the
third in a row each one locks that name (or address) out for twice as long as the one before,
up to five minutes.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable

import redis
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """Adds :data:`HEADERS` and ``Server-Timing: app;dur=…`` (the server's time, for bench) to
    every answer."""

    def __init__(self, app: ASGIApp, clock: Callable[[], float] = time.perf_counter) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.clock()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
                headers["Server-Timing"] = f"app;dur={(self.clock() - started) * 1000:.1f}"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_valid(request: Request, given: str | None) -> bool:
    expected = request.session.get("csrf")
    if not isinstance(expected, str) or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


class LoginThrottle:
    """Failed logins per user name and per address, with a lock-out that doubles each time."""

    FREE_FAILURES = 2  # failures in a row before the first lock-out
    FIRST_LOCK = 1.0  # seconds
    MAX_LOCK = 300.0
    FORGET_AFTER = 900  # seconds without a failure before the count starts again

    def __init__(self, client: redis.Redis, prefix: str = "eduhook:console:login") -> None:
        self.client = client
        self.prefix = prefix

    def _keys(self, user: str, address: str) -> list[str]:
        return [f"{self.prefix}:user:{user[:64]}", f"{self.prefix}:addr:{address}"]

    def wait(self, user: str, address: str) -> float:
        """Seconds before this user or address may try again (0: now)."""
        waits = [self.client.pttl(key + ":lock") for key in self._keys(user, address)]
        return max([w / 1000 for w in waits if isinstance(w, int) and w > 0], default=0.0)

    def failed(self, user: str, address: str) -> None:
        for key in self._keys(user, address):
            failures = int(self.client.incr(key))
            self.client.expire(key, self.FORGET_AFTER)
            if failures > self.FREE_FAILURES:
                lock = min(self.FIRST_LOCK * 2 ** (failures - self.FREE_FAILURES - 1), self.MAX_LOCK)
                self.client.set(key + ":lock", "1", px=int(lock * 1000))

    def succeeded(self, user: str, address: str) -> None:
        keys = self._keys(user, address)
        self.client.delete(keys[0], keys[0] + ":lock")
