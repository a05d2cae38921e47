"""Unknown configuration keys and the key meant, and the whole-configuration check in one pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from eduhook.cli.checks import check_configuration
from eduhook.config_problems import KeyMap
from eduhook.settings import settings_keys
from handlers.routes import route_keys


@pytest.mark.parametrize(
    ("table", "key", "hint"),
    [
        # Misplaced: the key exists, in the nearest other table.
        (("routes", "penn_foster"), "gender", "`[routes.penn_foster.defaults] gender`"),
        (("routes",), "program_id", "`[routes.penn_foster] program_id`"),
        (("routes", "penn_foster"), "course_ids", "`[routes.appsembler] course_ids`"),
        (("routes", "penn_foster", "defaults"), "leads", "`[routes.penn_foster] leads`"),
        # Misspelt: the nearest key of the same table, then of any table.
        (("routes", "penn_foster"), "progam_id", "`[routes.penn_foster] program_id`"),
        (("routes",), "course_cod", "`[[routes]] course_code`"),
        (("routes", "appsembler"), "enrollment_typ", "`[routes.penn_foster] enrollment_type`"),
    ],
)
def test_route_keys_suggest_the_table_or_spelling_meant(table: tuple[str, ...], key: str, hint: str) -> None:
    assert route_keys().unknown(table, key) == f"unknown field (did you mean {hint}?)"


@pytest.mark.parametrize(
    ("table", "key", "hint"),
    [
        ((), "databse_url", "`database_url`"),
        ((), "api_token", "`[appsembler] api_token` or `[eduframe] api_token`"),
        (("penn_foster",), "api_ky", "`[penn_foster] api_key`"),
        (("retry",), "pennfoster", "`[retry] penn_foster`"),
        (("eduframe",), "client_secret", "`[appsembler] client_secret` or `[penn_foster] client_secret`"),
    ],
)
def test_settings_keys_suggest_the_section_or_spelling_meant(
    table: tuple[str, ...], key: str, hint: str
) -> None:
    assert settings_keys().unknown(table, key) == f"unknown field (did you mean {hint}?)"


def test_a_key_like_nothing_known_gets_no_guess() -> None:
    keys = KeyMap({(): frozenset({"port"}), ("a",): frozenset({"b"})})
    assert keys.unknown((), "zzzzzz") == "unknown field"
    assert keys.spell(("a",), "b") == "`[a] b`"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "eduhook.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def no_eduhook_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each case is the file it writes and the variables it sets, never the developer's own."""
    for name in ("EDUHOOK_CONFIG", "EDUHOOK_HANDLER_MODULES", "EDUHOOK_PORT", "EDUHOOK_EDUFRAME_API_TOKEN",
                 "EDUFRAME_API_TOKEN", "APPSEMBLER_API_URL", "APPSEMBLER_API_TOKEN"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def test_every_kind_of_mistake_is_reported_in_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDUHOOK_HANDLER_MODULES", "handlers.nope")
    path = write(
        tmp_path,
        'databse_url = "sqlite://"\nport = "eighty"\n[penn_foster]\napi_ky = "k"\n'
        '[[routes]]\nname = "python"\ncourse_id = 9\n[routes.appsembler]\ncourse_ids = ["MA101"]\n',
    )
    report = check_configuration(path)
    assert report.settings is None  # port is not a number
    assert report.problems[:3] == [
        "databse_url: unknown field (did you mean `database_url`?)",
        "penn_foster.api_ky: unknown field (did you mean `[penn_foster] api_key`?)",
        "port: Input should be a valid integer, unable to parse string as an integer",
    ]
    assert report.problems[3].startswith("route 'python': appsembler.course_ids[0]: course key 'MA101'")
    assert len(report.problems) == 4  # handler modules and partners need valid settings first


def test_handler_modules_and_partner_credentials_are_checked_once_settings_are_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDUHOOK_HANDLER_MODULES", "handlers.nope")
    route = '[[routes]]\nname = "python"\ncourse_id = 9\n'
    path = write(tmp_path, route + '[routes.appsembler]\ncourse_ids = ["course-v1:A+B+C"]\n')
    assert check_configuration(path).problems == [
        "handler_modules: handler module 'handlers.nope' (EDUHOOK_HANDLER_MODULES) cannot be imported:"
        " No module named 'handlers.nope'",
        "eduframe: EDUFRAME_API_TOKEN is not set (every route re-reads Eduframe)",
        "appsembler: APPSEMBLER_API_URL is not set (route 'python' sends to Appsembler)",
    ]


def test_webhooks_to_reconcile_need_eduframe_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDUHOOK_EDUFRAME_WEBHOOK_IDS", "2b8f0c1e")
    assert check_configuration().problems == [
        "eduframe: EDUFRAME_API_TOKEN is not set (eduframe.webhook_ids are reconciled)"
    ]
    monkeypatch.setenv("EDUHOOK_EDUFRAME_API_TOKEN", "a-token")
    assert check_configuration().problems == []


def test_no_file_and_no_routes_is_a_valid_configuration() -> None:
    report = check_configuration()
    assert report.problems == [] and report.settings is not None and report.routes.routes == ()
