"""``create_app(settings, …)``: the console's routes, its session and headers, and its error pages."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jinja2
import redis
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from console.forms import BadInput
from console.replays import Replayer
from console.security import LoginThrottle, SecurityHeaders, csrf_token
from console.users import ConsoleUser
from eduhook.ledger import create_engine_for
from eduhook.settings import Settings

log = logging.getLogger("eduhook.console")
SESSION_SECONDS = 8 * 3600


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Console:
    """What every page uses; built by :func:`create_app`, kept on ``app.state.console``."""

    settings: Settings
    engine: Engine
    broker: redis.Redis
    users: dict[str, ConsoleUser]
    templates: jinja2.Environment
    throttle: LoginThrottle
    replayer: Replayer
    clock: Callable[[], dt.datetime]

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        user = self.user_of(request)
        page = self.templates.get_template(name).render(
            request=request, user=user, csrf_token=csrf_token(request), now=self.clock(), **context
        )
        return HTMLResponse(page, status_code=status_code)

    def user_of(self, request: Request) -> ConsoleUser | None:
        name = request.session.get("user")
        return self.users.get(name) if isinstance(name, str) else None


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def require_user(request: Request) -> ConsoleUser:
    """The signed-in user; a page asked for without one is sent to the login page (a POST: 403)."""
    user = console_of(request).user_of(request)
    if user is None:
        if request.method == "GET":
            raise HTTPException(303, headers={"Location": "/login"})
        raise BadInput("sign in first", 403)
    return user


def create_app(
    settings: Settings,
    *,
    redis_url: str,
    users: dict[str, ConsoleUser],
    secret: str,
    clock: Callable[[], dt.datetime] = _utc_now,
) -> Starlette:
    """Build the console. The engine, Redis client and replay thread are closed by the lifespan."""
    from console import actions, pages

    if not users:
        raise ValueError("no console users: add one with `eduhook console add-user NAME`")
    engine = create_engine_for(settings.effective_database_url)
    broker = redis.Redis.from_url(redis_url, socket_timeout=3, socket_connect_timeout=3)
    templates = jinja2.Environment(
        loader=jinja2.PackageLoader("console", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    templates.globals.update(age=pages.age, query=_query)
    console = Console(
        settings, engine, broker, users, templates, LoginThrottle(broker), Replayer(engine, broker), clock
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            console.replayer.close()
            broker.close()
            engine.dispose()

    routes = [
        Route("/login", actions.login_page, methods=["GET"]),
        Route("/login", actions.login, methods=["POST"]),
        Route("/logout", actions.logout, methods=["POST"]),
        Route("/", pages.overview, methods=["GET"]),
        Route("/events", pages.events, methods=["GET"]),
        Route("/events/{event_id}", pages.event_detail, methods=["GET"]),
        Route("/events/{event_id}/unredact", actions.unredact, methods=["POST"]),
        Route("/dead-letters", pages.dead_letters, methods=["GET"]),
        Route("/replay", actions.replay, methods=["POST"]),
        Route("/replays/{audit_id:int}", pages.replay_progress, methods=["GET"]),
        Route("/audit", pages.audit, methods=["GET"]),
        Mount("/static", StaticFiles(packages=[("console", "static")]), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=secret,
            session_cookie="eduhook_console",
            max_age=SESSION_SECONDS,
            same_site="strict",
            https_only=settings.console_https,
        ),
    ]
    app = Starlette(
        routes=routes,
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={BadInput: _bad_input, HTTPException: _http_error, Exception: _crash},
    )
    app.state.console = console
    return app


def _query(base: dict[str, str], **changes: str) -> str:
    """A query string: ``base`` with ``changes``, empty values left out."""
    return urlencode({k: v for k, v in {**base, **changes}.items() if v})


async def _bad_input(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadInput)
    return console_of(request).render(request, "error.html", exc.status_code, message=exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 303 and exc.headers:
        return RedirectResponse(exc.headers["Location"], status_code=303)
    messages = {404: "no such page", 405: "that method is not allowed here"}
    message = messages.get(exc.status_code, "the request was refused")
    return console_of(request).render(request, "error.html", exc.status_code, message=message)


async def _crash(request: Request, exc: Exception) -> Response:
    log.error("console page %s failed: %s", request.url.path, type(exc).__name__, exc_info=exc)
    return HTMLResponse(
        "<!doctype html><title>error</title><p>The console failed to answer; the log has the detail.</p>",
        status_code=500,
    )
