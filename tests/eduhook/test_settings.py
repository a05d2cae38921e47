"""Settings: environment names, comma lists, the TOML file, and secrets kept out of reprs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from eduhook.settings import ConfigFileError, Settings


def test_environment_names_and_comma_lists(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDUHOOK_WEBHOOK_TOKENS", "first-token, second-token")
    monkeypatch.setenv("EDUHOOK_EDUCATORS", "acme,globex")
    monkeypatch.setenv("EDUHOOK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PENNFOSTER_CLIENT_SECRET", "pf-secret")
    monkeypatch.setenv("EDUHOOK_EDUFRAME_API_TOKEN", "ef-secret")
    settings = Settings()
    assert settings.token_values() == [b"first-token", b"second-token"]
    assert settings.educators == ["acme", "globex"]
    assert settings.effective_database_url == f"sqlite:///{tmp_path.resolve() / 'eduhook.db'}"
    assert settings.pennfoster_client_secret is not None
    assert settings.pennfoster_client_secret.get_secret_value() == "pf-secret"
    text = repr(settings) + str(settings)
    for secret in ("first-token", "pf-secret", "ef-secret"):
        assert secret not in text


def test_toml_file_sections_and_env_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "eduhook.toml"
    config.write_text(
        'port = 9000\neducators = ["acme"]\n[eduframe]\napi_url = "http://127.0.0.1:9/api/v1"\n'
        '[penn_foster]\nclient_id = "from-file"\n[[routes]]\nname = "nursing"\n'
    )
    monkeypatch.setenv("EDUHOOK_CONFIG", str(config))
    monkeypatch.setenv("EDUHOOK_PORT", "9100")
    settings = Settings()
    assert settings.port == 9100  # the environment wins over the file
    assert settings.educators == ["acme"]
    assert settings.eduframe_api_url == "http://127.0.0.1:9/api/v1"
    assert settings.pennfoster_client_id == "from-file"
    assert settings.routes == [{"name": "nursing"}]


def test_missing_or_broken_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigFileError, match="does not exist"):
        Settings(config=tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("port = \n")
    with pytest.raises(ConfigFileError, match="not valid TOML"):
        Settings(config=broken)


@pytest.mark.parametrize("name", ["EDUHOOK_EDUFRAME_CACHE_SECONDS", "EDUHOOK_EDUFRAME_USER_CACHE_SECONDS"])
def test_eduframe_cache_times_default_and_refuse_negatives_naming_the_key(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    assert (Settings().eduframe_cache_seconds, Settings().eduframe_user_cache_seconds) == (300.0, 60.0)
    monkeypatch.setenv(name, "0")
    assert getattr(Settings(), name.removeprefix("EDUHOOK_").lower()) == 0.0
    monkeypatch.setenv(name, "-1")
    with pytest.raises(ValueError, match=name.removeprefix("EDUHOOK_").lower()):
        Settings()


def test_client_deadlines_from_the_file_and_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "eduhook.toml"
    config.write_text("header_timeout = 2.5\nbody_timeout = 8\n")
    monkeypatch.setenv("EDUHOOK_CONFIG", str(config))
    monkeypatch.setenv("EDUHOOK_BODY_TIMEOUT", "6")
    settings = Settings()
    assert (settings.keep_alive_timeout, settings.header_timeout, settings.body_timeout) == (5.0, 2.5, 6.0)
    config.write_text("keep_alive_timeout = -1\n")
    with pytest.raises(ValidationError, match=r"keep_alive_timeout\n  Input should be greater than 0"):
        Settings()


def test_reconcile_settings_from_the_file_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert (Settings().eduframe_webhook_ids, Settings().eduframe_reconcile_interval) == ([], 3600.0)
    config = tmp_path / "eduhook.toml"
    config.write_text('[eduframe]\nwebhook_ids = ["2f0c-a1", "b_7"]\nreconcile_interval = 600\n')
    monkeypatch.setenv("EDUHOOK_CONFIG", str(config))
    settings = Settings()
    assert (settings.eduframe_webhook_ids, settings.eduframe_reconcile_interval) == (
        ["2f0c-a1", "b_7"],
        600.0,
    )
    monkeypatch.setenv("EDUHOOK_EDUFRAME_WEBHOOK_IDS", "c-1, d-2")
    assert Settings().eduframe_webhook_ids == ["c-1", "d-2"]


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("EDUHOOK_EDUFRAME_WEBHOOK_IDS", "a/../b", "webhook id 1 must be"),
        ("EDUHOOK_EDUFRAME_WEBHOOK_IDS", "a,b?x=1", "webhook id 2 must be"),
        ("EDUHOOK_EDUFRAME_WEBHOOK_IDS", "a,a", "must not repeat"),
        ("EDUHOOK_EDUFRAME_RECONCILE_INTERVAL", "0", "eduframe_reconcile_interval"),
    ],
)
def test_reconcile_settings_are_validated(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, problem: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=problem):
        Settings()
