"""What every partner sandbox shares: request log, faults, a settable clock and ``/_sandbox`` routes."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.faults import Fault, FaultMiddleware, FaultPlan


class SandboxClock:
    """Wall time plus an offset that tests move with ``POST /_sandbox/clock``."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self.offset = 0.0

    def __call__(self) -> float:
        return self._now() + self.offset


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: Any

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body,
        }


@dataclass
class SandboxCore:
    """State every sandbox has; partner state lives in the partner module's own dataclass."""

    name: str
    clock: SandboxClock = field(default_factory=SandboxClock)
    faults: FaultPlan = field(default_factory=FaultPlan)
    requests: list[RecordedRequest] = field(default_factory=list)


class RecordMiddleware:
    """Records every partner call (not ``/_sandbox``) with headers and decoded body."""

    def __init__(self, app: ASGIApp, core: SandboxCore) -> None:
        self.app = app
        self.core = core

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        body: Any
        try:
            body = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            body = raw.decode("utf-8", "replace")
        self.core.requests.append(
            RecordedRequest(
                method=scope["method"],
                path=scope["path"],
                query=scope.get("query_string", b"").decode("latin-1"),
                headers={k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]},
                body=body,
            )
        )
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json", headers=headers)


async def read_json(request: Request) -> Any:
    """The request body as JSON; raises ``ValueError`` with a short reason when it is not."""
    raw = await request.body()
    if not raw:
        raise ValueError("empty body")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"body is not JSON: {exc}") from exc


def control_routes(core: SandboxCore, reset: Callable[[], None], state: Callable[[], Any]) -> list[Route]:
    """The ``/_sandbox`` routes: state, requests, faults, clock and reset."""

    async def get_state(request: Request) -> Response:
        return json_response(state())

    async def get_requests(request: Request) -> Response:
        path = request.query_params.get("path")
        items = [r.to_json() for r in core.requests if path is None or r.path.startswith(path)]
        return json_response(items)

    async def clear_requests(request: Request) -> Response:
        core.requests.clear()
        return json_response({"cleared": True})

    async def get_faults(request: Request) -> Response:
        return json_response(
            {"latency": core.faults.latency, "faults": [f.to_json() for f in core.faults.faults]}
        )

    async def add_faults(request: Request) -> Response:
        try:
            data = await read_json(request)
            if not isinstance(data, dict):
                raise ValueError("expected an object")
            if "latency" in data:
                core.faults.latency = float(data["latency"])
            for item in data.get("faults", [data] if "kind" in data else []):
                core.faults.faults.append(Fault.from_json(item))
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return await get_faults(request)

    async def clear_faults(request: Request) -> Response:
        core.faults.clear()
        return json_response({"cleared": True})

    async def set_clock(request: Request) -> Response:
        try:
            data = await read_json(request)
            if "advance" in data:
                core.clock.offset += float(data["advance"])
            if "offset" in data:
                core.clock.offset = float(data["offset"])
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return json_response({"offset": core.clock.offset, "now": core.clock()})

    async def do_reset(request: Request) -> Response:
        core.requests.clear()
        core.faults.clear()
        core.clock.offset = 0.0
        reset()
        return json_response({"reset": True})

    return [
        Route("/_sandbox/state", get_state, methods=["GET"]),
        Route("/_sandbox/requests", get_requests, methods=["GET"]),
        Route("/_sandbox/requests", clear_requests, methods=["DELETE"]),
        Route("/_sandbox/faults", get_faults, methods=["GET"]),
        Route("/_sandbox/faults", add_faults, methods=["POST"]),
        Route("/_sandbox/faults", clear_faults, methods=["DELETE"]),
        Route("/_sandbox/clock", set_clock, methods=["POST"]),
        Route("/_sandbox/reset", do_reset, methods=["POST"]),
    ]


def build_sandbox_app(
    core: SandboxCore,
    routes: Sequence[BaseRoute],
    *,
    reset: Callable[[], None],
    state: Callable[[], Any],
    extra_control: Sequence[BaseRoute] = (),
    extra_middleware: Sequence[Middleware] = (),
    lifespan: Any = None,
) -> Starlette:
    """A Starlette app with the partner ``routes``, the shared control routes and middleware.

    ``extra_middleware`` runs inside the recording and fault middleware: it sees the calls that
    no injected fault answered.
    """
    app = Starlette(
        routes=[*control_routes(core, reset, state), *extra_control, *routes],
        middleware=[
            Middleware(RecordMiddleware, core=core),
            Middleware(FaultMiddleware, plan=core.faults),
            *extra_middleware,
        ],
        lifespan=lifespan,
    )
    app.state.core = core
    return app
