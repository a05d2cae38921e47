"""``eduhook routes check``: validate the whole configuration (``eduhook.cli.checks``), the routes
above all, and with ``--online`` ask Penn Foster whether each route's organization, location and
client exist."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from eduhook.settings import Settings
    from handlers.partners.pennfoster import Organization, PennFosterClient
    from handlers.routes import Route, RouteTable


@click.group()
def routes() -> None:
    """Routing of Eduframe offerings to Penn Foster and Appsembler."""


@routes.command("check")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Check this TOML file instead of EDUHOOK_CONFIG.",
)
@click.option("--online", is_flag=True, help="Also ask Penn Foster whether the organization ids exist.")
def check(config_file: Path | None, online: bool) -> None:
    """Validate the whole configuration; print "N routes OK" or one problem per line (exit status 1).

    These are the lines serve, worker, beat and dev print when they refuse to start.
    """
    from eduhook.cli.checks import check_configuration

    report = check_configuration(config_file)
    problems = report.problems
    table = report.routes
    if not problems and online and report.settings is not None:
        problems = _check_penn_foster(report.settings, table)
    if problems:
        for problem in problems:
            click.echo(problem)
        click.get_current_context().exit(1)
    count = len(table.routes)
    note = " (Penn Foster organizations found online)" if online and _penn_foster_routes(table) else ""
    if count == 0:
        note = " (no [[routes]]: every offering is ignored with reason 'no route')"
    click.echo(f"{count} route{'s' if count != 1 else ''} OK{note}")


def _penn_foster_routes(table: RouteTable) -> list[Route]:
    return [route for route in table.routes if route.penn_foster is not None]


def _check_penn_foster(settings: Settings, table: RouteTable) -> list[str]:
    """One line per route whose organization, location or client Penn Foster does not know."""
    from handlers.errors import EduhookError
    from handlers.partners.pennfoster import MemoryTokenCache, PennFosterClient

    targets = _penn_foster_routes(table)
    if not targets:
        return []
    try:
        # A one-off check needs no shared token cache (and no Redis).
        client = PennFosterClient.from_settings(settings, token_cache=MemoryTokenCache())
    except EduhookError as exc:
        return [f"penn_foster: cannot check online: {exc.message}"]
    try:
        return _lookups(client, targets)
    except EduhookError as exc:
        # Credentials refused, network down, 5xx: nothing per route can be concluded.
        return [f"penn_foster: cannot check online: {exc}"]
    finally:
        client.close()


def _lookups(client: PennFosterClient, targets: list[Route]) -> list[str]:
    from handlers.errors import PermanentError

    found: dict[tuple[int, ...], bool] = {}

    def exists(*ids: int) -> bool:
        # The narrowest lookup answers for its own level only when the level above exists.
        if ids not in found:
            try:
                org = client.get_organization(*ids)
            except PermanentError as exc:
                if exc.status_code != 404:
                    raise
                found[ids] = False
            else:
                found[ids] = _contains(org, ids)
        return found[ids]

    problems = []
    for route in targets:
        target = route.penn_foster
        assert target is not None
        levels = (
            ("organization_id", (target.organization_id,)),
            ("location_id", (target.organization_id, target.location_id)),
            ("client_id", (target.organization_id, target.location_id, target.client_id)),
        )
        for name, ids in levels:
            if not exists(*ids):
                problems.append(
                    f"route {route.name!r}: penn_foster.{name} {ids[-1]} not found at Penn Foster"
                )
                break
    return problems


def _contains(org: Organization, ids: tuple[int, ...]) -> bool:
    """Whether the answer really holds the asked-for branch (a 200 may come with ``errors``)."""
    if org.organization_id != ids[0] or org.errors:
        return False
    if len(ids) == 1:
        return True
    location = next((loc for loc in org.locations if loc.location_id == ids[1]), None)
    if location is None:
        return False
    return len(ids) == 2 or any(client.client_id == ids[2] for client in location.clients)
