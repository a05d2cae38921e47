"""The ``eduhook`` command: serve, worker, beat, dev, db, events, dlq, replay, audit, status, sync,
reconcile, flower, console, sandbox."""

from __future__ import annotations

import logging

import click
from pydantic import ValidationError

from console.cli import console
from eduhook.cli.dlq import dlq
from eduhook.cli.events import events
from eduhook.cli.flower import flower
from eduhook.cli.processes import beat, dev, serve, worker
from eduhook.cli.reconcile import reconcile
from eduhook.cli.replay import audit, replay
from eduhook.cli.routes import routes
from eduhook.cli.status import status
from eduhook.cli.sync import sync
from eduhook.ledger.database import private_folder
from eduhook.logs import configure_logging
from eduhook.settings import ConfigFileError, Settings, load_settings


class Context:
    """Settings are read once, on first use, so ``--help`` works without any configuration."""

    def __init__(self, *, verbose: bool = False) -> None:
        self._settings: Settings | None = None
        self._verbose = verbose

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = load_settings()
            except (ValidationError, ConfigFileError) as exc:
                raise click.ClickException(f"invalid configuration: {exc}") from exc
            private_folder(self._settings.data_dir)
            configure_logging(
                level="debug" if self._verbose else self._settings.log_level,
                log_format=self._settings.log_format,
                tokens=[token.decode() for token in self._settings.token_values()],
            )
        return self._settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """eduhook: Eduframe webhooks in, Penn Foster and Appsembler enrollments out.

    Configuration comes from EDUHOOK_* environment variables and the TOML file named by
    EDUHOOK_CONFIG; see README.md for every setting. With no EDUHOOK_REDIS_URL, an embedded
    Redis is started under EDUHOOK_DATA_DIR (default ./var).
    """
    # Text until the settings are read; then their level and format (Context.settings).
    configure_logging(level=logging.DEBUG if verbose else logging.INFO)
    ctx.obj = Context(verbose=verbose)


@cli.group()
def db() -> None:
    """The ledger database."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(obj: Context) -> None:
    """Create or migrate the ledger schema (safe to run repeatedly)."""
    from eduhook.ledger import create_engine_for, upgrade

    engine = create_engine_for(obj.settings.effective_database_url)
    try:
        before, after = upgrade(engine)
    except Exception as exc:
        raise click.ClickException(f"cannot upgrade the ledger: {type(exc).__name__}: {exc}") from exc
    finally:
        engine.dispose()
    click.echo(f"ledger schema at version {after}" + (f" (was {before})" if before != after else ""))


for command in (
    serve,
    worker,
    beat,
    dev,
    flower,
    events,
    dlq,
    replay,
    audit,
    reconcile,
    routes,
    status,
    sync,
    console,
):
    cli.add_command(command)


def main() -> None:
    try:  # the sandboxes are a development tool; a production install may leave them out
        from sandbox.cli import sandbox  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        cli.add_command(sandbox)
    cli(prog_name="eduhook")
