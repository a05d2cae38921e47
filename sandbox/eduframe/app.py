"""Builds the Eduframe sandbox app from a seed: state, delivery engine, routes and lifespan."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware

from sandbox.base import SandboxClock, SandboxCore, build_sandbox_app
from sandbox.eduframe.api import fallback_route, resource_routes
from sandbox.eduframe.control import control_routes
from sandbox.eduframe.delivery import Deliverer
from sandbox.eduframe.enrollments import enrollment_routes
from sandbox.eduframe.hooks import webhook_routes
from sandbox.eduframe.leads import write_routes
from sandbox.eduframe.ratelimit import RateLimitMiddleware, rate_limit_routes
from sandbox.eduframe.seed import demo_seed
from sandbox.eduframe.state import EduframeState


def create_app(seed: dict[str, Any] | None = None, *, clock: SandboxClock | None = None) -> Starlette:
    """The sandbox serving ``seed`` (the demo seed when ``None``; ``{}`` for an empty Eduframe)."""
    initial = copy.deepcopy(demo_seed() if seed is None else seed)
    core = SandboxCore(name="eduframe", clock=clock or SandboxClock())
    state = EduframeState()
    state.apply_seed(copy.deepcopy(initial))
    deliverer = Deliverer(state, core.clock)

    def reset() -> None:
        deliverer.cancel_all()
        fresh = EduframeState()
        fresh.apply_seed(copy.deepcopy(initial))
        # Routes hold this object, so reset refills it instead of replacing it.
        state.__dict__.update(fresh.__dict__)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await deliverer.aclose()

    enrollment_api, enrollment_controls = enrollment_routes(state, deliverer, core.clock)
    # Writes come before the generic reads so that PUT /orders/{id}/approve is not shadowed.
    routes = [
        *write_routes(state, deliverer, core.clock),
        *enrollment_api,
        *webhook_routes(state, core.clock),
        *resource_routes(state),
        fallback_route(),
    ]
    app = build_sandbox_app(
        core,
        routes,
        reset=reset,
        state=state.to_json,
        extra_control=[
            *control_routes(state, deliverer),
            *enrollment_controls,
            *rate_limit_routes(state, core.clock),
        ],
        extra_middleware=[Middleware(RateLimitMiddleware, state=state, clock=core.clock)],
        lifespan=lifespan,
    )
    app.state.eduframe = state
    app.state.deliverer = deliverer
    return app
