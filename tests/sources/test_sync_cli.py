"""``eduhook sync studyabroad101``: reports found/new/already known; ``--dry-run`` records nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner
from starlette.types import ASGIApp

from eduhook.cli.main import cli
from eduhook.ledger import EventLedger, create_engine_for, upgrade
from sandbox.server import RunningServer
from sandbox.studyabroad101 import DEFAULT_API_KEY, DEFAULT_API_USER, create_app


def test_sync_dry_run_reports_and_records_nothing(
    serve: Callable[[ASGIApp], RunningServer], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = serve(create_app({"leads": []})).url
    httpx.post(
        f"{url}/_sandbox/studyabroad101/leads", json={"count": 130, "days": 2, "first_day": "2026-11-01"}
    )
    database = f"sqlite:///{tmp_path / 'eduhook.db'}"
    upgrade(create_engine_for(database))
    for name, value in {
        "EDUHOOK_DATA_DIR": str(tmp_path), "EDUHOOK_DATABASE_URL": database, "STUDYABROAD101_API_URL": url,
        "STUDYABROAD101_API_USER": DEFAULT_API_USER, "STUDYABROAD101_API_KEY": DEFAULT_API_KEY,
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(
        cli, ["sync", "studyabroad101", "--since", "2026-11-01", "--dry-run", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"found": 130, "new": 130, "already_known": 0, "pages": 2, "dry_run": True}
    assert EventLedger(create_engine_for(database)).count_by_status() == {}
