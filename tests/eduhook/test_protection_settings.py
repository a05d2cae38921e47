"""Limit and breaker settings: the forms accepted, and bad values stopping a process at start."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from eduhook.settings import PartnerLimit, Settings
from tests.conftest import REPO_ROOT


def test_eduframe_is_limited_to_450_per_300_s_and_the_others_are_not_by_default() -> None:
    settings = Settings()
    assert settings.limit_eduframe == PartnerLimit(requests=450, per_seconds=300)
    assert (settings.limit_penn_foster, settings.limit_appsembler) == (None, None)
    assert (settings.breaker_enabled, settings.breaker_failures, settings.breaker_cooldown) == (True, 5, 30)
    assert settings.breaker_max_cooldown == 300


def test_limits_come_from_the_environment_or_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "eduhook.toml"
    config.write_text(
        "[limits.penn_foster]\nrequests = 100\nper_seconds = 60\n[limits]\nappsembler = '5/1'\n"
        "[breaker]\nfailures = 3\ncooldown = 0.5\nmax_cooldown = 4\n"
    )
    monkeypatch.setenv("EDUHOOK_LIMIT_EDUFRAME", "20/10")
    settings = Settings(config=config)
    assert settings.limit_eduframe == PartnerLimit(requests=20, per_seconds=10)
    assert settings.limit_penn_foster == PartnerLimit(requests=100, per_seconds=60)
    assert settings.limit_appsembler == PartnerLimit(requests=5, per_seconds=1)
    assert (settings.breaker_failures, settings.breaker_cooldown, settings.breaker_max_cooldown) == (
        3,
        0.5,
        4,
    )
    monkeypatch.setenv("EDUHOOK_LIMIT_EDUFRAME", "off")
    assert Settings(config=config).limit_eduframe is None


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "0/300",
            "limit_eduframe.requests (EDUHOOK_LIMIT_EDUFRAME, [limits.eduframe]): must be a whole number",
        ),
        ("abc", "limit_eduframe (EDUHOOK_LIMIT_EDUFRAME, [limits.eduframe]): expected N/S, e.g. 450/300"),
        ("-5/300", "limit_eduframe.requests (EDUHOOK_LIMIT_EDUFRAME, [limits.eduframe]): must be a whole"),
        ("450/-1", "limit_eduframe.per_seconds (EDUHOOK_LIMIT_EDUFRAME, [limits.eduframe]): must be a whole"),
        ("450/2.5", "limit_eduframe.per_seconds"),
        ("450", "expected N/S"),
    ],
)
def test_a_bad_limit_names_its_key(value: str, message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDUHOOK_LIMIT_EDUFRAME", value)
    with pytest.raises(ValidationError, match=re.escape(message)):
        Settings()


def test_bad_toml_limits_and_breaker_settings_name_their_keys(tmp_path: Path) -> None:
    config = tmp_path / "eduhook.toml"
    config.write_text("[limits.penn_foster]\nrequests = -1\nper_seconds = 60\n")
    with pytest.raises(ValidationError, match=r"limit_penn_foster.requests \(EDUHOOK_LIMIT_PENN_FOSTER"):
        Settings(config=config)
    config.write_text("[limits.appsembler]\nrequests = 5\n")
    with pytest.raises(ValidationError, match="limit_appsembler"):
        Settings(config=config)
    with pytest.raises(ValidationError, match="breaker_max_cooldown"):
        Settings(breaker_cooldown=60, breaker_max_cooldown=30)
    with pytest.raises(ValidationError, match="breaker_failures"):
        Settings(breaker_failures=0)


@pytest.mark.parametrize("value", ["0/300", "abc", "-1/300"])
def test_a_worker_with_a_bad_limit_stops_at_start_naming_the_key(value: str, tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "EDUHOOK_DATA_DIR": str(tmp_path),
           "EDUHOOK_REDIS_URL": "redis://127.0.0.1:1/0", "EDUHOOK_LIMIT_EDUFRAME": value}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "eduhook.cli", "worker"],
        env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2  # the start-up check's status for a configuration problem
    assert "not started: the configuration has 1 problem" in done.stderr
    assert "EDUHOOK_LIMIT_EDUFRAME" in done.stderr
    assert "Traceback" not in done.stderr
