"""StudyAbroad101 leads end to end through real processes: `eduhook sync studyabroad101` records
them, a real worker creates each as an Eduframe lead once, and a sync killed mid-page loses and
duplicates nothing."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable
from typing import Any

import httpx
from starlette.types import ASGIApp

from eduhook.settings import Settings
from sandbox.server import RunningServer
from sandbox.studyabroad101 import DEFAULT_API_KEY, DEFAULT_API_USER, create_app
from tests.conftest import eduhook_processes, wait_until
from tests.handlers.conftest import World
from tests.receiver.test_webhooks import ledger_for

StartProcess = Callable[..., subprocess.Popen[bytes]]
LEADS = "/api/leads"


def studyabroad101_env(url: str) -> dict[str, str]:
    # The poller's partner, and no Eduframe budget: this test is about the poller, not the limit.
    return {
        "EDUHOOK_STUDYABROAD101_API_URL": url,
        "EDUHOOK_STUDYABROAD101_API_USER": DEFAULT_API_USER,
        "EDUHOOK_STUDYABROAD101_API_KEY": DEFAULT_API_KEY,
        "EDUHOOK_LIMIT_EDUFRAME": "off",
    }


def add_leads(url: str, count: int, *, days: int, first_day: str) -> None:
    body = {"count": count, "days": days, "first_day": first_day, "program_ids": [7]}
    assert httpx.post(f"{url}/_sandbox/studyabroad101/leads", json=body).status_code == 200


def eduframe_leads(world: World) -> list[dict[str, Any]]:
    return [call["body"] for call in world.calls(world.eduframe, "/leads")]


def succeeded(settings: Settings) -> int:
    return ledger_for(settings).count_by_status().get("succeeded", 0)


def test_leads_reach_eduframe_once_and_a_sync_killed_mid_page_loses_nothing(
    world: World,
    eduhook_settings: Settings,
    serve: Callable[[ASGIApp], RunningServer],
    start_worker: StartProcess,
) -> None:
    sa101 = serve(create_app({"leads": []})).url
    env = studyabroad101_env(sa101)
    add_leads(sa101, 250, days=5, first_day="2026-11-01")
    start_worker(**env)
    with eduhook_processes(eduhook_settings, "sync", ["sync", "studyabroad101", "--json"]) as sync:
        first = sync(**env)
        assert first.wait(120) == 0
        report = json.loads((eduhook_settings.data_dir / "sync-0.log").read_text().splitlines()[-1])
        assert (report["found"], report["new"]) == (250, 250)
        wait_until(lambda: succeeded(eduhook_settings) == 250, 120, what="250 leads processed")
        posted = eduframe_leads(world)
        assert len(posted) == 250 and len({lead["email"] for lead in posted}) == 250

        # 30 more arrive; the next sync hangs on its page and is killed there.
        add_leads(sa101, 30, days=1, first_day="2026-11-05")
        fault = {"kind": "delay", "delay": 60, "path": LEADS, "count": 1}
        assert httpx.post(f"{sa101}/_sandbox/faults", json=fault).status_code == 200
        httpx.delete(f"{sa101}/_sandbox/requests")
        killed = sync(**env)
        wait_until(lambda: httpx.get(f"{sa101}/_sandbox/requests").json(), 60, what="the page request")
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        httpx.delete(f"{sa101}/_sandbox/faults")

        again = sync(**env)
        assert again.wait(120) == 0
    report = json.loads((eduhook_settings.data_dir / "sync-2.log").read_text().splitlines()[-1])
    assert report["new"] == 30
    wait_until(lambda: succeeded(eduhook_settings) == 280, 120, what="280 leads processed")
    posted = eduframe_leads(world)
    assert len(posted) == 280 and len({lead["email"] for lead in posted}) == 280
