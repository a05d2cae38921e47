"""``eduhook flower``: the Celery dashboard behind basic auth, its state kept under the data dir.

Flower reads its credentials from ``FLOWER_BASIC_AUTH`` (its own environment option), which this
command sets in its own process from ``EDUHOOK_FLOWER_BASIC_AUTH``: the passwords never appear on
a command line (``ps`` shows those to every user) nor in a log line.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import TYPE_CHECKING

import click

from eduhook.runtime import resolve_redis

if TYPE_CHECKING:
    from eduhook.cli.main import Context
    from eduhook.settings import Settings

log = logging.getLogger("eduhook.flower")
# How often Flower writes its task state to disk (milliseconds), besides at shutdown.
STATE_SAVE_INTERVAL_MS = 60_000
# Flower options eduhook decides; values set for them in the environment would be ignored or
# could open the API (FLOWER_UNAUTHENTICATED_API), so they are removed.
_OWNED_ENV = ("FLOWER_BASIC_AUTH", "FLOWER_UNAUTHENTICATED_API", "FLOWER_AUTH")


def is_loopback(address: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``; an empty address means every interface."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def flower_argv(settings: Settings, address: str, port: int, *, level: str) -> list[str]:
    """Flower's command line: no secret is on it."""
    return [
        "flower",
        f"--address={address}",
        f"--port={port}",
        "--persistent=True",
        f"--db={settings.data_dir.resolve() / 'flower'}",
        f"--state_save_interval={STATE_SAVE_INTERVAL_MS}",
        f"--max_tasks={settings.flower_max_tasks}",
        # Tornado would otherwise set the root logger's level to its own default, info.
        f"--logging={level}",
    ]


@click.command()
@click.option("--port", type=int, default=5555, show_default=True, help="Flower's port.")
@click.option(
    "--address",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind. Any but loopback needs EDUHOOK_FLOWER_BASIC_AUTH=user:password.",
)
@click.pass_obj
def flower(obj: Context, port: int, address: str) -> None:
    """Run Flower, the Celery dashboard, against eduhook's broker.

    Its pages and API ask for HTTP basic auth with the pairs in EDUHOOK_FLOWER_BASIC_AUTH
    (user:password[,user2:password2]). Without them Flower only starts on a loopback address,
    and its API answers 401. /metrics and /healthcheck stay open. Task state is kept in
    <data dir>/flower across restarts, at most EDUHOOK_FLOWER_MAX_TASKS tasks.
    """
    from eduhook.cli.checks import CONFIGURATION_EXIT, require_valid_configuration
    from workers.app import create_celery

    require_valid_configuration("flower")
    settings = obj.settings
    credentials = [pair.get_secret_value() for pair in settings.flower_basic_auth]
    if not credentials and not is_loopback(address):
        click.echo(
            f"eduhook flower: not started: Flower on {address or 'every interface'} needs a login;"
            " set EDUHOOK_FLOWER_BASIC_AUTH=user:password (several: user:pw,user2:pw2),"
            " or bind it to loopback with --address 127.0.0.1",
            err=True,
        )
        raise SystemExit(CONFIGURATION_EXIT)
    for name in _OWNED_ENV:
        os.environ.pop(name, None)
    if credentials:
        os.environ["FLOWER_BASIC_AUTH"] = ",".join(credentials)
    else:
        log.warning(
            "Flower runs without a login on %s; anyone on this host can use it"
            " (set EDUHOOK_FLOWER_BASIC_AUTH=user:password)",
            address,
        )
    # Flower logs its tornado settings, cookie secret included, at debug level.
    logging.getLogger("flower.command").setLevel(max(logging.INFO, logging.getLogger().level))
    redis = resolve_redis(settings)
    app = create_celery(settings, redis_url=redis.url)
    try:
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel()).lower()  # -v included
        app.start(flower_argv(settings, address, port, level=level))
    finally:
        redis.stop()
