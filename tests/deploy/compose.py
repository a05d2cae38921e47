"""Reading docker-compose.yml as compose would, and turning its services into loopback processes."""

from __future__ import annotations

import os
import re
import shlex
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from dotenv import dotenv_values
from pydantic import AliasChoices

from eduhook.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
DOCKERFILE = REPO_ROOT / "Dockerfile"

# ``$$``, ``${NAME}``, ``${NAME:-default}``, ``${NAME-default}``, ``${NAME:?error}``, ``$NAME``.
_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?:(:?[-?])([^}]*))?\}|\$(\w+)")
_ENV_LINE = re.compile(r"^\s*#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


class MissingVariable(ValueError):
    """A ``${NAME:?message}`` compose refuses to start without."""


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's variable interpolation of one string."""

    def value(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        name, operator, argument = match[1] or match[4], match[2], match[3] or ""
        given = variables.get(name)
        if operator in (":?", "?") and (given is None or (operator == ":?" and not given)):
            raise MissingVariable(f"{name}: {argument}")
        if operator == ":-" and not given:
            return argument
        if operator == "-" and given is None:
            return argument
        return given or ""

    return _VARIABLE.sub(value, text)


def _interpolate_all(node: Any, variables: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, variables)
    if isinstance(node, list):
        return [_interpolate_all(item, variables) for item in node]
    if isinstance(node, dict):
        return {key: _interpolate_all(value, variables) for key, value in node.items()}
    return node


def referenced_variables() -> set[str]:
    """The variables compose itself reads (interpolation), from the file's text."""
    text = COMPOSE_FILE.read_text()
    return {m[1] or m[4] for m in _VARIABLE.finditer(text) if m[0] != "$$"}


def env_example_names() -> set[str]:
    """Every variable ``.env.example`` names, set or commented out."""
    return set(_ENV_LINE.findall(ENV_EXAMPLE.read_text()))


def known_env_names() -> set[str]:
    """The environment variables eduhook's settings model reads: ``EDUHOOK_<FIELD>``, and the
    partner credentials it also accepts without the prefix (``PENNFOSTER_API_KEY``)."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def dockerfile_env() -> dict[str, str]:
    """The image's ``ENV`` values, which every service starts with."""
    values: dict[str, str] = {}
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("ENV "):
            for pair in shlex.split(line[4:]):
                key, _, value = pair.partition("=")
                values[key] = value
    return values


@dataclass
class Service:
    name: str
    spec: dict[str, Any]
    environment: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> list[str]:
        command = self.spec.get("command", [])
        return shlex.split(command) if isinstance(command, str) else [str(part) for part in command]

    @property
    def is_eduhook(self) -> bool:
        return self.command[:1] == ["eduhook"]

    @property
    def healthcheck(self) -> list[str]:
        test = self.spec.get("healthcheck", {}).get("test", [])
        return shlex.split(test) if isinstance(test, str) else [str(part) for part in test]

    def option(self, name: str) -> str | None:
        command = self.command
        return command[command.index(name) + 1] if name in command else None


def load(variables: Mapping[str, str], dotenv: Path | None = None) -> dict[str, Service]:
    """The services after interpolation, each with the environment compose would give it: the
    image's ``ENV``, then its ``env_file`` (``dotenv`` stands in for ``.env``), then ``environment``."""
    document = _interpolate_all(yaml.safe_load(COMPOSE_FILE.read_text()), variables)
    image = dockerfile_env()
    services: dict[str, Service] = {}
    for name, spec in document["services"].items():
        environment = dict(image) if "build" in spec else {}
        for entry in spec.get("env_file", []):
            path = entry["path"] if isinstance(entry, dict) else entry
            assert path == ".env", f"{name}: env_file {path} (only .env is supported here)"
            if dotenv is not None and dotenv.exists():
                environment.update({k: v for k, v in dotenv_values(dotenv).items() if v is not None})
        environment.update({k: str(v) for k, v in (spec.get("environment") or {}).items() if v is not None})
        services[name] = Service(name, spec, environment)
    return services


def one_shot_services(services: Mapping[str, Service]) -> set[str]:
    """Services others wait to *complete*: they run once, so they have no health to check."""
    return {
        dependency
        for service in services.values()
        for dependency, condition in (service.spec.get("depends_on") or {}).items()
        if isinstance(condition, dict) and condition.get("condition") == "service_completed_successfully"
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def host_env(extra: Mapping[str, str]) -> dict[str, str]:
    """What a container has besides its settings: a PATH with eduhook's tools, and its hostname."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        "HOME": os.environ.get("HOME", "/tmp"),
        "HOSTNAME": socket.gethostname(),
        "PYTHONPATH": str(REPO_ROOT),
        **extra,
    }
