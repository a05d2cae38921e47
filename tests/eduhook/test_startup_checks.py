"""``serve``, ``worker``, ``beat`` and ``dev`` as real processes refuse a bad configuration at start:
exit status 2, with the lines ``eduhook routes check`` prints, before any of them starts work."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, TEST_TOKEN

# gender belongs in [routes.penn_foster.defaults]; straight under [routes.penn_foster] it is a typo.
MISPLACED_GENDER = """
[[routes]]
name = "nursing"
course_code = "PF-NURSE"
[routes.penn_foster]
program_id = "NUR01105"
organization_id = 141982
location_id = 244648
client_id = 329209
enrollment_type = "B2B"
contact_email_address = "enrollments@example.com"
gender = "F"
"""
EXPECTED = (
    "route 'nursing': penn_foster.gender: unknown field"
    " (did you mean `[routes.penn_foster.defaults] gender`?)"
)
COMMANDS = {
    "serve": ["serve", "--port", "1"],  # a port it could never bind: it must not get that far
    "worker": ["worker", "--pool", "solo"],
    "beat": ["beat"],
    "dev": ["dev", "--port", "1"],
}


@pytest.fixture
def bad_config_env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    """Everything valid (credentials, Redis, tokens) except the one misplaced route key."""
    config = tmp_path / "eduhook.toml"
    config.write_text(MISPLACED_GENDER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDUHOOK_")}
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        EDUHOOK_CONFIG=str(config),
        EDUHOOK_DATA_DIR=str(tmp_path / "var"),
        EDUHOOK_REDIS_URL=redis_url,
        EDUHOOK_WEBHOOK_TOKENS=TEST_TOKEN,
        EDUFRAME_API_TOKEN="eduframe-token",
        PENNFOSTER_CLIENT_ID="id",
        PENNFOSTER_CLIENT_SECRET="secret",
        PENNFOSTER_API_KEY="key",
    )
    return env


Finished = dict[str, subprocess.CompletedProcess[str]]


def run_all(commands: dict[str, list[str]], env: dict[str, str]) -> Finished:
    """Run each ``eduhook`` command as its own process, all at once; each must exit within a minute."""
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", "eduhook.cli", *args], env=env, cwd=REPO_ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        for name, args in commands.items()
    }  # fmt: skip
    finished: Finished = {}
    try:
        for name, process in started.items():
            stdout, stderr = process.communicate(timeout=60)
            finished[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    finally:
        for process in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return finished


def test_a_bad_routes_file_stops_every_long_running_command_with_exit_2(
    bad_config_env: dict[str, str],
) -> None:
    results = run_all({**COMMANDS, "check": ["routes", "check"]}, bad_config_env)

    check = results.pop("check")
    assert check.returncode == 1
    assert check.stdout.splitlines() == [EXPECTED]
    for name, result in results.items():
        assert result.returncode == 2, f"{name}: {result.returncode}\n{result.stderr[-2000:]}"
        lines = result.stderr.splitlines()
        assert lines == [
            *check.stdout.splitlines(),
            f"eduhook {name}: not started: the configuration has 1 problem (eduhook routes check lists them)",
        ], name
    # Refused before anything was set up: not even the data directory exists.
    assert not Path(bad_config_env["EDUHOOK_DATA_DIR"]).exists()


def test_serve_without_webhook_tokens_is_refused_like_any_other_mistake(
    bad_config_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "eduhook.toml").write_text("")
    env = {k: v for k, v in bad_config_env.items() if k != "EDUHOOK_WEBHOOK_TOKENS"}
    [serve] = run_all({"serve": COMMANDS["serve"]}, env).values()
    assert serve.returncode == 2
    assert serve.stderr.splitlines()[0] == (
        "webhook_tokens: EDUHOOK_WEBHOOK_TOKENS is empty: set at least one webhook token"
    )
