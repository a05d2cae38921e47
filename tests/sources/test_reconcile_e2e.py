"""Done means: webhooks Eduframe gave up on while eduhook was down come back through
``eduhook reconcile eduframe`` (a real process) or beat, and a real worker runs each once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import redis
from click.testing import CliRunner
from starlette.types import ASGIApp

from eduhook.cli.main import cli
from eduhook.ledger import EventLedger, EventRecord, create_engine_for
from eduhook.settings import Settings
from handlers.partners.eduframe import EduframeClient
from receiver.app import create_app as create_receiver
from sandbox.eduframe import DEFAULT_API_TOKEN, EduframeSeed
from sandbox.eduframe import create_app as create_eduframe
from sandbox.server import RunningServer
from tests.conftest import REPO_ROOT, TEST_TOKEN, settings_env, wait_until

Serve = Callable[[ASGIApp], RunningServer]
StartProcess = Callable[..., subprocess.Popen[bytes]]
OUTAGE = 20


class Outage:
    """Eduframe (the sandbox) with a webhook to a real receiver, which is then stopped."""

    def __init__(self, serve: Serve, settings: Settings) -> None:
        assert settings.redis_url
        seed = EduframeSeed.demo(retry_delays=[0.01, 0.01]).to_dict()
        self.eduframe = serve(create_eduframe(seed))
        self.receiver = serve(create_receiver(settings, redis_url=settings.redis_url))
        client = EduframeClient.from_settings(
            Settings(eduframe_api_url=self.eduframe.url, eduframe_api_token=DEFAULT_API_TOKEN)
        )
        url = f"{self.receiver.url}/webhooks/eduframe?token={TEST_TOKEN}"
        self.webhook_id = client.create_webhook(url, events=["order.approved"]).id
        self.client = client
        self.ledger = EventLedger(create_engine_for(settings.effective_database_url))
        self.broker = redis.Redis.from_url(settings.redis_url)
        self.env = {
            "EDUHOOK_EDUFRAME_API_URL": self.eduframe.url,
            "EDUHOOK_EDUFRAME_API_TOKEN": DEFAULT_API_TOKEN,
            "EDUHOOK_EDUFRAME_WEBHOOK_IDS": self.webhook_id,
        }

    def emit(self, order_id: int) -> dict[str, Any]:
        body = {"event": "order.approved", "event_data": {"id": order_id}, "educator": "acme"}
        response = httpx.post(f"{self.eduframe.url}/_sandbox/emit", params={"wait": "true"}, json=body)
        assert response.status_code == 200 and response.json()["complete"], response.text
        [notification] = response.json()["notifications"]
        return dict(notification)

    def events(self) -> list[EventRecord]:
        return self.ledger.search(limit=100)

    def handled(self) -> list[str]:
        items = self.broker.lrange("test:handled", 0, -1)
        return [item.decode() if isinstance(item, bytes) else item for item in items]


def reconcile(settings: Settings, outage: Outage, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "eduhook.cli", "reconcile", "eduframe", *args],
        env=settings_env(settings, **outage.env), cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


def counts(done: subprocess.CompletedProcess[str]) -> tuple[int, int, int]:
    report = orjson.loads(done.stdout)
    return report["found"], report["already_had"], report["recovered"]


@pytest.fixture
def outage(serve: Serve, eduhook_settings: Settings) -> Outage:
    return Outage(serve, eduhook_settings)


def test_twenty_webhooks_given_up_during_an_outage_are_recovered_once(
    outage: Outage, eduhook_settings: Settings, start_worker: StartProcess
) -> None:
    delivered = outage.emit(9000)
    assert delivered["status"] == "succeeded"
    outage.receiver.stop()
    given_up = [outage.emit(9001 + n) for n in range(OUTAGE)]
    assert {n["status"] for n in given_up} == {"failed"}
    assert len(outage.events()) == 1

    dry = reconcile(eduhook_settings, outage, "--dry-run", "--json")
    assert counts(dry) == (OUTAGE, 0, OUTAGE)
    assert len(outage.events()) == 1

    start_worker()
    first = reconcile(eduhook_settings, outage)
    assert f"found {OUTAGE}, already had 0, recovered {OUTAGE}" in first.stdout
    assert "reconciling" in first.stderr  # the progress bar

    def all_succeeded() -> list[EventRecord] | None:
        recovered = [e for e in outage.events() if e.source == "reconcile"]
        done = len(recovered) == OUTAGE and all(e.status == "succeeded" for e in recovered)
        return recovered if done else None

    recovered = wait_until(all_succeeded, 60, what=f"{OUTAGE} recovered events to succeed")
    assert isinstance(recovered, list)
    assert sorted(e.payload["event_data"]["id"] for e in recovered) == list(range(9001, 9001 + OUTAGE))
    assert {e.attempts for e in recovered} == {1}

    second = reconcile(eduhook_settings, outage, "--json")
    assert counts(second) == (OUTAGE, OUTAGE, 0)
    handled = outage.handled()
    assert sorted(handled) == sorted(e.id for e in outage.events())  # each event ran exactly once
    assert len(outage.events()) == OUTAGE + 1


def test_beat_reconciles_on_its_schedule(
    outage: Outage, start_worker: StartProcess, start_beat: StartProcess
) -> None:
    outage.receiver.stop()
    for n in range(3):
        outage.emit(9100 + n)
    start_worker(**outage.env)
    start_beat(EDUHOOK_EDUFRAME_RECONCILE_INTERVAL="0.5", **outage.env)

    def recovered_and_run() -> bool:
        events = outage.events()
        return len(events) == 3 and all(e.status == "succeeded" and e.source == "reconcile" for e in events)

    wait_until(recovered_and_run, 60, what="beat's reconcile to recover 3 events and a worker to run them")
    assert sorted(outage.handled()) == sorted(e.id for e in outage.events())


def test_reconcile_without_webhooks_to_watch_is_a_clear_error(
    outage: Outage, eduhook_settings: Settings
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eduhook.cli", "reconcile", "eduframe"],
        env=settings_env(eduhook_settings, **{**outage.env, "EDUHOOK_EDUFRAME_WEBHOOK_IDS": ""}),
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "set eduframe.webhook_ids" in done.stderr


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["--since", "last tuesday"], {}, 2, "'last tuesday' is not an ISO 8601 date or date-time"),
        (
            ["--dry-run"],
            {"EDUHOOK_EDUFRAME_API_TOKEN": "wrong-token"},
            1,
            "cannot read Eduframe's notification log",
        ),
    ],
)
def test_reconcile_errors_are_clear_and_record_nothing(
    outage: Outage, eduhook_settings: Settings, args: list[str], env: dict[str, str], code: int, message: str
) -> None:
    outage.receiver.stop()
    outage.emit(9200)
    environment = settings_env(eduhook_settings, **{**outage.env, **env})
    result = CliRunner().invoke(cli, ["reconcile", "eduframe", *args], env=environment)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "wrong-token" not in result.output
    assert outage.events() == []
