"""``eduhook console [--host] [--port]`` serves the ops console; ``eduhook console add-user NAME``."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import TYPE_CHECKING

import click

from console.users import UsersError, entry_for, parse_users

if TYPE_CHECKING:
    from eduhook.cli.main import Context
    from eduhook.settings import Settings


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind; keep it internal.")
@click.option("--port", type=click.IntRange(1, 65535), default=8090, show_default=True)
@click.pass_context
def console(ctx: click.Context, host: str, port: int) -> None:
    """Run the ops console: the ledger, dead letters and replays in a browser.

    \b
    Users come from EDUHOOK_CONSOLE_USERS (add one with `eduhook console add-user NAME`);
    the session cookie is signed with EDUHOOK_CONSOLE_SECRET, or a key kept in the data dir.
    """
    if ctx.invoked_subcommand is not None:
        return
    import uvicorn

    from console.app import create_app
    from eduhook.cli.checks import refuse, require_valid_configuration
    from eduhook.runtime import resolve_redis

    require_valid_configuration("console")
    obj: Context = ctx.obj
    settings = obj.settings
    try:
        users = parse_users(settings.console_users.get_secret_value())
    except UsersError as exc:
        refuse("console", [f"console_users (EDUHOOK_CONSOLE_USERS): {exc}"])
    if not users:
        refuse("console", ["console_users (EDUHOOK_CONSOLE_USERS): empty; see `eduhook console add-user`"])
    redis = resolve_redis(settings)
    app = create_app(settings, redis_url=redis.url, users=users, secret=session_secret(settings))
    click.echo(f"eduhook console on http://{host}:{port}/ ({len(users)} users)", err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level=settings.log_level, server_header=False)
    finally:
        redis.stop()


def session_secret(settings: Settings) -> str:
    """EDUHOOK_CONSOLE_SECRET, or a key made once and kept in ``<data dir>/console-secret`` (0600)."""
    if settings.console_secret is not None:
        value = settings.console_secret.get_secret_value()
        if len(value) < 32:
            from eduhook.cli.checks import refuse

            refuse("console", ["console_secret (EDUHOOK_CONSOLE_SECRET): at least 32 characters"])
        return value
    path = Path(settings.data_dir) / "console-secret"
    if path.exists():
        path.chmod(0o600)
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return key


@console.command("add-user")
@click.argument("name")
@click.option("--pii", is_flag=True, help="May unredact one event at a time (each view is audited).")
def add_user(name: str, pii: bool) -> None:
    """Ask for NAME's password twice and print the EDUHOOK_CONSOLE_USERS entry (an Argon2 hash).

    Join several users' entries with commas.
    """
    password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        raise click.BadParameter("use at least 12 characters", param_hint="password")
    try:
        entry = entry_for(name, password, pii=pii)
    except UsersError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from exc
    click.echo(f"EDUHOOK_CONSOLE_USERS='{entry}'")
