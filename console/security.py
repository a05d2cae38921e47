"""What keeps the console private: security headers, CSRF tokens, and slowed-down failed logins.

The CSRF token lives in the signed session cookie and is compared with ``hmac.compare_digest``;
a login rotates it. Failed logins are counted per user name and per address in tiers of moving
windows (3 a minute, 10 in 15 minutes, 30 an hour); past a tier, the next try waits for it.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable

import redis
from limits import RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
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
    """Failed logins per user name and per address, in tiers of moving windows (``limits`` on
    Redis): past each tier's count, the next try waits until that window has room again, so a
    guesser is slowed down more the longer it keeps guessing."""

    TIERS = (
        RateLimitItemPerMinute(3),  # a typo or two pass; the fourth try in a minute waits
        RateLimitItemPerMinute(10, 15),
        RateLimitItemPerHour(30),
    )

    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "eduhook:console:login",
        clock: Callable[[], float] = time.time,  # the wall clock, which ``limits`` stamps hits with
    ) -> None:
        storage = RedisStorage("redis://", connection_pool=client.connection_pool, key_prefix=prefix)
        self._windows = MovingWindowRateLimiter(storage)
        self._clock = clock

    @staticmethod
    def _who(user: str, address: str) -> list[tuple[str, str]]:
        return [("user", user[:64]), ("address", address)]

    def wait(self, user: str, address: str) -> float:
        """Seconds before this user or address may try again (0: now)."""
        now = self._clock()
        waits = [
            self._windows.get_window_stats(tier, *who).reset_time - now
            for tier in self.TIERS
            for who in self._who(user, address)
            if not self._windows.test(tier, *who)
        ]
        return max([w for w in waits if w > 0], default=0.0)

    def failed(self, user: str, address: str) -> None:
        for tier in self.TIERS:
            for who in self._who(user, address):
                self._windows.hit(tier, *who)

    def succeeded(self, user: str, address: str) -> None:
        """The user's count starts again; the address keeps its failures (it may guess others)."""
        for tier in self.TIERS:
            self._windows.clear(tier, *self._who(user, address)[0])
