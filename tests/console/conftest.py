"""Fixtures for the console: users with known passwords, and the console served on loopback."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest
from starlette.types import ASGIApp

from console.users import ConsoleUser, parse_users
from eduhook.settings import Settings
from sandbox.server import RunningServer

PASSWORD = "correct horse battery"
SECRET = "console-test-secret-0123456789abcdef"


@functools.cache
def users() -> dict[str, ConsoleUser]:
    from console.users import entry_for

    return parse_users(
        ",".join([entry_for("ops", PASSWORD, pii=False), entry_for("dpo", PASSWORD, pii=True)])
    )


@pytest.fixture
def console_url(eduhook_settings: Settings, serve: Callable[[ASGIApp], RunningServer]) -> str:
    """The console on a loopback port, over the test's ledger and Redis."""
    from console.app import create_app

    assert eduhook_settings.redis_url
    app = create_app(eduhook_settings, redis_url=eduhook_settings.redis_url, users=users(), secret=SECRET)
    return serve(app).url
