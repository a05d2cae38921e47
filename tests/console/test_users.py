"""Console users: the EDUHOOK_CONSOLE_USERS format, Argon2 checks, and `eduhook console add-user`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from console.users import UsersError, authenticate, entry_for, parse_users
from eduhook.settings import Settings
from tests.conftest import REPO_ROOT, settings_env


def test_entries_split_on_commas_outside_the_hashes_and_pii_is_read() -> None:
    text = ",".join(
        [entry_for("alice", "alice password", pii=False), entry_for("dana", "dana password", pii=True)]
    )
    assert text.count(",") > 1  # Argon2 parameters have commas of their own
    users = parse_users(text)
    assert {(u.name, u.pii) for u in users.values()} == {("alice", False), ("dana", True)}
    assert authenticate(users, "dana", "dana password") == users["dana"]
    assert authenticate(users, "dana", "alice password") is None
    assert authenticate(users, "nobody", "alice password") is None
    assert "$argon2" not in repr(users["alice"])


@pytest.mark.parametrize(
    "text", ["alice:plaintext", "alice", "alice:$1$md5crypt", "a:$argon2id$x,a:$argon2id$y"]
)
def test_anything_else_is_refused_without_showing_a_hash(text: str) -> None:
    with pytest.raises(UsersError) as refused:
        parse_users(text)
    assert "$" not in str(refused.value)


def eduhook(settings: Settings, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eduhook.cli", *args], input=stdin, env=settings_env(settings, **env),
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_add_user_prompts_twice_and_prints_the_line(eduhook_settings: Settings) -> None:
    done = eduhook(eduhook_settings, "console", "add-user", "dana", "--pii", stdin="a long password\n" * 2)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("EDUHOOK_CONSOLE_USERS='dana:pii:$argon2id$") and line.endswith("'")
    users = parse_users(line.split("=", 1)[1].strip("'"))
    assert authenticate(users, "dana", "a long password") == users["dana"]
    mismatch = eduhook(
        eduhook_settings, "console", "add-user", "dana", stdin="a long password\nanother one\n" * 3
    )
    assert mismatch.returncode != 0 and "EDUHOOK_CONSOLE_USERS" not in mismatch.stdout


def test_console_refuses_to_start_without_users_naming_the_key(eduhook_settings: Settings) -> None:
    empty = eduhook(eduhook_settings, "console", "--port", "1")
    assert empty.returncode == 2 and "console_users (EDUHOOK_CONSOLE_USERS)" in empty.stderr
    bad = eduhook(eduhook_settings, "console", EDUHOOK_CONSOLE_USERS="alice:secret")
    assert bad.returncode == 2 and "entry 1 is not name:hash" in bad.stderr and "secret" not in bad.stderr
    assert "Traceback" not in empty.stderr + bad.stderr
