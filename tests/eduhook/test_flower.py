"""``eduhook flower`` as a real process beside a real worker: a login on every page and the API, its
task state kept across restarts, event ids only in what it shows, and no password in its output."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from eduhook.cli.flower import flower_argv, is_loopback
from eduhook.embedded_redis import free_loopback_port
from eduhook.settings import Settings
from tests.conftest import REPO_ROOT, eduhook_processes, settings_env, wait_until
from tests.receiver.test_webhooks import envelope, post

StartWorker = Callable[..., subprocess.Popen[bytes]]
PASSWORD = "flower-Pa55-7c1e90"
LOGIN = ("ops", PASSWORD)


def _get(url: str, **kwargs: Any) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2, **kwargs)
    except httpx.TransportError:
        return None


def _up(base: str) -> bool:
    answer = _get(base + "/healthcheck")
    return answer is not None and answer.status_code == 200


def _worker_alive(base: str) -> bool:
    answer = _get(base + "/api/workers", params={"status": "true"}, auth=LOGIN)
    return answer is not None and answer.status_code == 200 and any(answer.json().values())


def _tasks_of(base: str, event_id: str) -> list[dict[str, Any]]:
    answer = _get(base + "/api/tasks", auth=LOGIN)
    assert answer is not None and answer.status_code == 200
    return [task for task in answer.json().values() if event_id in (task.get("args") or "")]


def _succeeded(base: str, event_id: str) -> list[dict[str, Any]]:
    return [task for task in _tasks_of(base, event_id) if task.get("state") == "SUCCESS"]


def test_flower_needs_a_login_and_lists_processed_events_across_restarts(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartWorker
) -> None:
    start_worker(EDUHOOK_TASK_EVENTS="true")
    port = free_loopback_port()
    base = f"http://127.0.0.1:{port}"
    auth = {
        "EDUHOOK_FLOWER_BASIC_AUTH": f"ops:{PASSWORD},second:other-pa55",
        "EDUHOOK_FLOWER_MAX_TASKS": "50",
    }
    with eduhook_processes(eduhook_settings, "flower", ["flower", "--port", str(port)]) as start:
        flower = start(**auth)
        wait_until(lambda: _up(base), 60, what="Flower")
        assert PASSWORD.encode() not in Path(f"/proc/{flower.pid}/cmdline").read_bytes()
        for path in ("/", "/tasks", "/api/tasks", "/api/workers", "/api/task/info/x"):
            answer = _get(base + path)
            assert answer is not None and answer.status_code == 401, path
        wrong = _get(base + "/api/tasks", auth=("ops", "not-" + PASSWORD))
        assert wrong is not None and wrong.status_code == 401
        second = _get(base + "/api/tasks", auth=("second", "other-pa55"))
        assert second is not None and second.status_code == 200
        metrics = _get(base + "/metrics")
        assert metrics is not None and metrics.status_code == 200  # open, as README says

        # Flower's event receiver is live once a worker's heartbeat has reached it.
        wait_until(lambda: _worker_alive(base), 30, what="a worker's heartbeat in Flower")
        event_id = post(receiver_url, envelope("test.succeed", id=1)).json()["event_id"]
        found = wait_until(lambda: _succeeded(base, event_id), 30, what="the task in Flower")
        assert isinstance(found, list) and len(found) == 1
        task: dict[str, Any] = found[0]
        assert task["name"] == "eduhook.process_event"
        assert task["args"] == repr([event_id, "test.succeed"])  # the event id and type, no payload
        assert task["kwargs"] == "{}"
        flower.terminate()
        flower.wait(15)
        assert list(eduhook_settings.data_dir.glob("flower*")), "Flower saved its state in the data dir"

        start(**auth)  # the same state, read back
        wait_until(lambda: _up(base), 60, what="Flower, restarted")
        assert wait_until(lambda: _succeeded(base, event_id), 10, what="the task after a restart")
    for log in eduhook_settings.data_dir.glob("flower-*.log"):
        text = log.read_text(errors="replace")
        assert PASSWORD not in text and "other-pa55" not in text


def test_flower_on_loopback_without_a_login_warns_and_keeps_its_api_closed(
    eduhook_settings: Settings,
) -> None:
    port = free_loopback_port()
    base = f"http://127.0.0.1:{port}"
    with eduhook_processes(eduhook_settings, "flower", ["flower", "--port", str(port)]) as start:
        start()
        wait_until(lambda: _up(base), 60, what="Flower")
        answer = _get(base + "/api/tasks")
        assert answer is not None and answer.status_code == 401
    log = (eduhook_settings.data_dir / "flower-0.log").read_text()
    assert "WARNING" in log and "without a login" in log


@pytest.mark.parametrize(
    ("extra", "args", "expected"),
    [
        ({}, ["--address", "0.0.0.0"], "needs a login; set EDUHOOK_FLOWER_BASIC_AUTH=user:password"),
        ({"EDUHOOK_FLOWER_BASIC_AUTH": "nocolon"}, [], "flower_basic_auth: entry 1 of EDUHOOK_"),
        ({"EDUHOOK_FLOWER_BASIC_AUTH": "ops:"}, [], "flower_basic_auth: entry 1"),
        ({"EDUHOOK_FLOWER_MAX_TASKS": "0"}, [], "flower_max_tasks:"),
        ({"EDUHOOK_LOG_FORMAT": "xml"}, [], "log_format: Input should be 'text' or 'json'"),
        ({"EDUHOOK_LOG_LEVEL": "loud"}, [], "log_level: must be one of debug, info, warning"),
    ],
)
def test_flower_refuses_to_start_with_a_bad_login_or_log_setup(
    eduhook_settings: Settings, extra: dict[str, str], args: list[str], expected: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eduhook.cli", "flower", "--port", str(free_loopback_port()), *args],
        env=settings_env(eduhook_settings, **extra),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert expected in done.stderr
    assert "nocolon" not in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("", False), ("::", False), ("10.0.0.5", False), ("flower.example", False)],
)  # fmt: skip
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_flowers_command_line_keeps_state_in_the_data_dir_bounded_and_holds_no_secret(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", flower_basic_auth="ops:" + PASSWORD)
    argv = flower_argv(settings, "0.0.0.0", 5555, level="info")
    assert f"--db={(tmp_path / 'var').resolve() / 'flower'}" in argv
    assert {"--persistent=True", "--max_tasks=10000", "--state_save_interval=60000"} <= set(argv)
    assert not any(PASSWORD in arg for arg in argv)
    assert PASSWORD not in repr(settings)
