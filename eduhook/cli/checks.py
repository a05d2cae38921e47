"""The whole-configuration check: ``eduhook routes check`` prints it, and ``serve``, ``worker``,
``beat`` and ``dev`` run it before starting anything, so a mistake stops them at once instead of
dead-lettering every event.

It reports every mistake it can find in one pass, one line each: unknown keys (with the key
likely meant), invalid settings, invalid routes and ``[user_fields]``, handler modules that do
not load, and partners that routes send to but that lack credentials or a URL. It reads files
and builds clients, and calls no partner.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click
from pydantic import ValidationError

from eduhook.config_problems import describe_errors
from eduhook.settings import ConfigFileError, Settings, read_toml, section_table, settings_keys
from handlers.errors import ConfigurationError
from handlers.partners._http import PartnerClient
from handlers.routes import CustomFieldNames, RouteConfigError, RouteTable

# Exit status of a long-running command refused for its configuration (click uses 2 for usage).
CONFIGURATION_EXIT = 2


@dataclass
class ConfigurationReport:
    """What the check found: the problems, and the settings and routes when they could be read."""

    problems: list[str] = field(default_factory=list)
    settings: Settings | None = None
    routes: RouteTable = field(default_factory=lambda: RouteTable(()))


def check_configuration(config_file: Path | None = None) -> ConfigurationReport:
    """Check ``config_file`` (default: ``EDUHOOK_CONFIG``) with the environment's settings."""
    path = config_file or _configured_path()
    report = ConfigurationReport()
    try:
        raw = read_toml(path) if path is not None else {}
        report.problems += unknown_keys(raw)
        report.settings = Settings(config=config_file) if config_file else Settings()
    except ConfigFileError as exc:
        return ConfigurationReport([*report.problems, str(exc)])
    except ValidationError as exc:
        report.problems += describe_errors(exc)
    settings = report.settings
    # Routes and [user_fields] are checked even when another setting is wrong: all at once.
    routes = settings.routes if settings else raw.get("routes", [])
    user_fields = settings.user_fields if settings else raw.get("user_fields", {})
    if isinstance(routes, list):
        try:
            report.routes = RouteTable.parse(routes)
        except RouteConfigError as exc:
            report.problems += exc.problems
    if isinstance(user_fields, Mapping):
        try:
            CustomFieldNames.parse(user_fields)
        except RouteConfigError as exc:
            report.problems += exc.problems
    if settings is not None:
        report.problems += handler_module_problems(settings)
        report.problems += partner_problems(settings, report.routes)
    return report


def require_valid_configuration(command: str, *, needs_webhook_tokens: bool = False) -> None:
    """Exit with status 2, printing every problem, unless the whole configuration is valid."""
    report = check_configuration()
    problems = list(report.problems)
    if needs_webhook_tokens and report.settings is not None and not report.settings.webhook_tokens:
        problems.append("webhook_tokens: EDUHOOK_WEBHOOK_TOKENS is empty: set at least one webhook token")
    if problems:
        refuse(command, problems)


def refuse(command: str, problems: list[str]) -> NoReturn:
    """Print the problems, as ``routes check`` does but on stderr, and exit with status 2."""
    for line in problems:
        click.echo(line, err=True)
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    click.echo(
        f"eduhook {command}: not started: the configuration has {count} (eduhook routes check lists them)",
        err=True,
    )
    raise SystemExit(CONFIGURATION_EXIT)


def unknown_keys(raw: Mapping[str, Any]) -> list[str]:
    """Keys of the file's top level and sections that no setting reads, which Settings would ignore."""
    keys = settings_keys()
    problems = []
    for key, value in raw.items():
        table = section_table(key)
        if table is None:
            if not keys.knows((), key):
                problems.append(f"{key}: {keys.unknown((), key)}")
            continue
        if not isinstance(value, Mapping):
            continue  # Settings names the wrong type
        unknown = [sub for sub in value if not keys.knows(table, sub)]
        problems += [f"{key}.{sub}: {keys.unknown(table, sub)}" for sub in unknown]
    return problems


def handler_module_problems(settings: Settings) -> list[str]:
    from handlers.registry import load_registry

    try:
        load_registry(settings.handler_modules)
    except ValueError as exc:
        return [f"handler_modules: {exc}"]
    return []


def partner_problems(settings: Settings, table: RouteTable) -> list[str]:
    """A partner that routes send to must have what its client needs; nothing is called."""
    from handlers.partners.appsembler import AppsemblerClient
    from handlers.partners.eduframe import EduframeClient
    from handlers.partners.pennfoster import MemoryTokenCache, PennFosterClient

    def penn_foster() -> PennFosterClient:
        # A check needs no shared token cache, so no Redis.
        return PennFosterClient.from_settings(settings, token_cache=MemoryTokenCache())

    needed: list[tuple[str, str, Callable[[], PartnerClient]]] = []
    if table.routes or settings.eduframe_webhook_ids:
        reader = "every route re-reads Eduframe" if table.routes else "eduframe.webhook_ids are reconciled"
        needed.append(("eduframe", reader, lambda: EduframeClient.from_settings(settings)))
    if senders := _senders(table, "penn_foster"):
        needed.append(("penn_foster", f"{senders} to Penn Foster", penn_foster))
    if senders := _senders(table, "appsembler"):
        needed.append(
            ("appsembler", f"{senders} to Appsembler", lambda: AppsemblerClient.from_settings(settings))
        )
    problems = []
    for partner, used_by, build in needed:
        try:
            build().close()
        except ConfigurationError as exc:
            problems.append(f"{partner}: {exc.message} ({used_by})")
    return problems


def _senders(table: RouteTable, target: str) -> str:
    """``route 'nursing' sends`` / ``routes 'a', 'b' send``, or ``""`` when no route has ``target``."""
    names = [repr(route.name) for route in table.routes if getattr(route, target) is not None]
    if len(names) == 1:
        return f"route {names[0]} sends"
    return f"routes {', '.join(names)} send" if names else ""


def _configured_path() -> Path | None:
    # The CLI is the edge that reads the environment; Settings reads the same variable.
    value = os.environ.get("EDUHOOK_CONFIG")
    return Path(value) if value else None
