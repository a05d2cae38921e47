"""Redis goes away and comes back: an event recorded meanwhile is queued by beat and processed."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from eduhook.embedded_redis import free_loopback_port, redis_executable
from eduhook.ledger import EventLedger, create_engine_for
from eduhook.settings import Settings
from tests.conftest import FAST_RETRIES, wait_until
from tests.receiver.test_webhooks import envelope, post

StartProcess = Callable[..., subprocess.Popen[bytes]]


class OwnRedis:
    """A redis-server of this test's own on a fixed port, to stop and start again."""

    def __init__(self, directory: Path) -> None:
        self.port = free_loopback_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = [
            redis_executable(), "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.directory), "--save", "", "--appendonly", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        wait_until(lambda: _pings(client), 10, what="redis-server to start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(own_redis: OwnRedis) -> str:
    """Overrides the shared fixture: eduhook in this module uses the test's own Redis."""
    return own_redis.url


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_event_recorded_while_redis_was_down_is_queued_by_beat(
    receiver_url: str, eduhook_settings: Settings, own_redis: OwnRedis, start_worker: StartProcess,
    start_beat: StartProcess,
) -> None:  # fmt: skip
    quick = {**FAST_RETRIES, "EDUHOOK_UNQUEUED_AFTER": "0.5"}
    start_worker(**quick)
    start_beat(**quick)
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    before = post(receiver_url, envelope("test.succeed", id=1)).json()
    assert before["status"] == "queued"
    assert wait_until(
        lambda: (e := ledger.get(before["event_id"])) and e.status == "succeeded", 30, "a first event"
    )

    own_redis.stop()
    during = post(receiver_url, envelope("test.succeed", id=2))
    assert during.status_code == 202 and during.json()["status"] == "received"
    event_id = during.json()["event_id"]
    own_redis.start()  # empty: the message was never published

    # Generous: after the restart the worker reconnects with kombu's backoff (2 s, then 4 s, ...),
    # which a loaded machine stretches; the logs say where it stood if it still times out.
    try:
        wait_until(lambda: (e := ledger.get(event_id)) and e.status == "succeeded", 120, "the swept event")
    except AssertionError as timed_out:
        raise AssertionError(f"{timed_out}; {ledger.get(event_id)}\n{_logs(eduhook_settings)}") from None
    assert redis.Redis.from_url(own_redis.url).lrange("test:handled", 0, -1) == [event_id.encode()]


def _logs(settings: Settings) -> str:
    """The last lines of every eduhook process this test started."""
    tails = []
    for log in sorted(settings.data_dir.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()[-30:]
        tails.append(f"--- {log.name}\n" + "\n".join(lines))
    return "\n".join(tails)
