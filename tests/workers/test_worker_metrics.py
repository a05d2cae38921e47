"""``eduhook worker --metrics-port``: its folder of metric files, its port, its token."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable

import httpx
from pydantic import SecretStr

from eduhook.metrics_http import token_accepted
from eduhook.settings import Settings
from tests.conftest import wait_until
from tests.handlers.test_metrics_e2e import metrics_url

StartProcess = Callable[..., subprocess.Popen[bytes]]


def test_a_worker_owns_a_folder_of_its_own_and_clears_what_dead_workers_left(
    eduhook_settings: Settings, start_worker: StartProcess
) -> None:
    root = eduhook_settings.data_dir / "prometheus"
    stale = root / "worker-999999999"  # no such process
    stale.mkdir(parents=True)
    (stale / "counter_999999999.db").write_bytes(b"old")
    worker = start_worker("--metrics-port", "0", EDUHOOK_METRICS_TOKEN="t0ken")
    url = metrics_url(eduhook_settings.data_dir / "worker-0.log")
    assert not stale.exists() and [p.name for p in root.iterdir()] == [f"worker-{worker.pid}"]
    assert httpx.get(url).status_code == 401
    answer = httpx.get(url, headers={"Authorization": "Bearer t0ken"})
    assert answer.status_code == 200 and "eduhook_breaker_state" in answer.text
    assert httpx.get(url.removesuffix("/metrics") + "/other").status_code == 404

    log = eduhook_settings.data_dir / "worker-0.log"
    wait_until(lambda: " ready." in log.read_text(), 30, what="Celery's shutdown handlers")
    worker.terminate()
    worker.wait(30)
    assert not any(root.iterdir())  # a worker that stops takes its files with it


def test_a_port_in_use_stops_the_worker_with_a_clear_message(
    eduhook_settings: Settings, start_worker: StartProcess
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        worker = start_worker("--metrics-port", str(port))
        assert worker.wait(60) == 2
    log = (eduhook_settings.data_dir / "worker-0.log").read_text()
    assert f"--metrics-port {port}: cannot listen" in log and "Traceback" not in log
    assert not any((eduhook_settings.data_dir / "prometheus").iterdir())  # its folder went too


def test_the_token_is_compared_whole() -> None:
    token = SecretStr("s3cret")
    assert token_accepted(None, None) and token_accepted("Bearer anything", None)
    assert token_accepted("Bearer s3cret", token) and token_accepted("bearer s3cret", token)
    for wrong in (None, "", "s3cret", "Basic s3cret", "Bearer s3cre", "Bearer s3cret2", "Bearer"):
        assert not token_accepted(wrong, token), wrong
