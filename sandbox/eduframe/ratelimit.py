"""The Eduframe sandbox's rate limit over HTTP: the 429 answer and ``/_sandbox/eduframe/rate-limit``.

    GET  /_sandbox/eduframe/rate-limit   {"requests", "per_seconds", "served", "rejected",
                                          "tokens": {<label>: {"served", "rejected", "remaining"}}}
    POST /_sandbox/eduframe/rate-limit   {"requests": N, "per_seconds": S}, or {"requests": null} for
                                         no limit; starts an empty window and counts from zero

Only calls carrying the sandbox's token use the window: any other call is answered 401 by the
API and belongs to no token. Control routes (``/_sandbox``) never count.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.base import SandboxClock, json_response, read_json
from sandbox.eduframe.responses import error, unauthorized
from sandbox.eduframe.state import EduframeState
from sandbox.eduframe.window import Limit, retry_after_header

ROUTE = "/_sandbox/eduframe/rate-limit"


def too_many_requests(wait: float) -> Response:
    """Eduframe's error body with status 429 and ``Retry-After`` in whole seconds."""
    response = error(429, "Too Many Requests")
    response.headers["Retry-After"] = retry_after_header(wait)
    return response


class RateLimitMiddleware:
    """Answers 429 for a token's calls past its window; lets everything else through.

    It sits inside the fault middleware, so an injected fault uses no budget, like a load
    balancer's error that never reached Eduframe.
    """

    def __init__(self, app: ASGIApp, state: EduframeState, clock: SandboxClock) -> None:
        self.app = app
        self.state = state
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        if unauthorized(Request(scope), self.state) is not None:
            await self.app(scope, receive, send)  # the API answers 401
            return
        # ``state`` is refilled in place on reset, so its window is looked up on every call.
        wait = self.state.rate_limit.admit(self.state.api_token, self.clock())
        if wait is None:
            await self.app(scope, receive, send)
            return
        await too_many_requests(wait)(scope, receive, send)


def rate_limit_routes(state: EduframeState, clock: SandboxClock) -> list[Route]:
    async def show(request: Request) -> Response:
        return json_response(state.rate_limit.to_json(clock()))

    async def configure(request: Request) -> Response:
        try:
            limit = Limit.from_json(await read_json(request))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        state.rate_limit.configure(limit)
        return await show(request)

    return [
        Route(ROUTE, show, methods=["GET"]),
        Route(ROUTE, configure, methods=["POST"]),
    ]
