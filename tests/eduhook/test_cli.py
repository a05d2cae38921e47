"""The ``eduhook`` command: db upgrade, events list/show, and ``dev`` end to end with embedded Redis."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from eduhook.cli.main import cli
from eduhook.embedded_redis import free_loopback_port
from eduhook.ledger.database import MIGRATIONS
from eduhook.settings import Settings
from tests.conftest import REPO_ROOT, TEST_TOKEN, settings_env, wait_until
from tests.receiver.test_webhooks import envelope, post


def _run(settings: Settings, *args: str) -> str:
    env = {k: v for k, v in settings_env(settings).items() if k.startswith("EDUHOOK_")}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_help_describes_every_command() -> None:
    output = CliRunner().invoke(cli, ["--help"]).output
    for command in ("serve", "worker", "beat", "dev", "db", "events", "flower"):
        assert command in output


def test_db_upgrade_is_repeatable(eduhook_settings: Settings) -> None:
    newest = f"ledger schema at version {len(MIGRATIONS)}"
    assert newest in _run(eduhook_settings, "db", "upgrade")
    assert _run(eduhook_settings, "db", "upgrade").strip() == newest


def test_events_list_and_show_redacted(receiver_url: str, eduhook_settings: Settings) -> None:
    event_id = post(receiver_url, envelope("user.updated", id=4, email="jane@example.com")).json()["event_id"]
    listing = _run(eduhook_settings, "events", "list")
    assert event_id in listing and "ignored" in listing
    rows = [
        json.loads(line)
        for line in _run(eduhook_settings, "events", "list", "--json", "--status", "ignored").splitlines()
    ]
    assert [r["id"] for r in rows] == [event_id]
    assert _run(eduhook_settings, "events", "list", "--status", "failed").strip() == "no events"

    shown = json.loads(_run(eduhook_settings, "events", "show", event_id))
    assert shown["payload"]["event_data"] == {"id": 4, "email": "[redacted]"}
    unredacted = json.loads(_run(eduhook_settings, "events", "show", event_id, "--unredacted"))
    assert unredacted["payload"]["event_data"]["email"] == "jane@example.com"


def test_events_show_unknown_id_fails_clearly(eduhook_settings: Settings) -> None:
    env = {k: v for k, v in settings_env(eduhook_settings).items() if k.startswith("EDUHOOK_")}
    result = CliRunner().invoke(cli, ["events", "show", "nope"], env=env)
    assert result.exit_code == 1
    assert "no event with id nope" in result.output


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_dev_runs_everything_with_embedded_redis_and_stops_cleanly(tmp_path: Path, database_url: str) -> None:
    """The newcomer path: no Redis configured, one command, Ctrl-C stops everything."""
    port = free_loopback_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDUHOOK_")}
    env.update(
        EDUHOOK_DATA_DIR=str(tmp_path / "var"),
        EDUHOOK_HANDLER_MODULES="tests.support.handlers",
        EDUHOOK_WEBHOOK_TOKENS=TEST_TOKEN,
        PYTHONPATH=str(REPO_ROOT),
    )
    log = open(tmp_path / "dev.log", "wb")  # noqa: SIM115
    dev = subprocess.Popen(
        [sys.executable, "-m", "eduhook.cli", "dev", "--port", str(port)],
        env=env,
        cwd=REPO_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            try:
                return httpx.get(base + "/readyz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, 30, what="eduhook dev to become ready")
        marker = json.loads((tmp_path / "var" / "redis" / "embedded.json").read_text())
        event_id = post(base, envelope("test.succeed", id=8)).json()["event_id"]
        settings = Settings(data_dir=tmp_path / "var")

        def status() -> str | None:
            result = CliRunner().invoke(
                cli, ["events", "list", "--json"], env={"EDUHOOK_DATA_DIR": str(settings.data_dir)}
            )
            rows = [json.loads(line) for line in result.output.splitlines()]
            return next(
                (r["status"] for r in rows if r["id"] == event_id and r["status"] == "succeeded"), None
            )

        assert wait_until(status, 30, what="the event to succeed") == "succeeded"
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(30)
        log.close()
    assert dev.returncode == 0, (tmp_path / "dev.log").read_text()[-2000:]
    with pytest.raises(ProcessLookupError):
        os.kill(marker["pid"], 0)  # the embedded Redis is gone too


def test_the_celery_entry_module_builds_the_app_from_the_environment(redis_url: str) -> None:
    """``celery -A workers.celery_app`` (Flower, inspect) reads EDUHOOK_* itself, and says what is missing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDUHOOK_")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    probe = "import workers.celery_app as m; print(m.app.main, sorted(m.app.conf.beat_schedule))"
    ok = subprocess.run([sys.executable, "-c", probe], env=env | {"EDUHOOK_REDIS_URL": redis_url},
                        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "eduhook ['retention', 'schedule']"
    missing = subprocess.run([sys.executable, "-c", probe], env=env, cwd=REPO_ROOT, capture_output=True,
                             text=True, timeout=60, check=False)  # fmt: skip
    assert missing.returncode == 1 and "EDUHOOK_REDIS_URL is not set" in missing.stderr
