"""Every line real eduhook processes print, scanned for secrets and personal data: none may appear."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx

from eduhook.embedded_redis import free_loopback_port
from eduhook.settings import Settings
from tests.conftest import FAST_RETRIES, TEST_TOKEN, eduhook_processes, wait_until
from tests.handlers.conftest import LEARNERS, World
from tests.handlers.test_e2e import webhook
from tests.handlers.test_failures import fault, settled

StartProcess = Callable[..., subprocess.Popen[bytes]]
SECRETS = [
    TEST_TOKEN,
    "sandbox-client-secret",
    "sandbox-api-key",
    "sandbox-appsembler-token",
    "eduframe-sandbox-token",
]
# What the world's students and lead are seeded with (tests/handlers/conftest.py).
PERSONAL = [
    "@example.com", "Tester", "Ann-Marie", "José", "O'Neil", "Lena", "555-01", "5705550199",
    "Main Street", "Lead Lane", "Scranton",
]  # fmt: skip


def test_no_secret_or_personal_value_reaches_any_log(
    world: World, eduhook_settings: Settings, start_worker: StartProcess, start_beat: StartProcess
) -> None:
    port = free_loopback_port()
    with eduhook_processes(eduhook_settings, "serve", ["serve", "--port", str(port)]) as serve:
        serve(**FAST_RETRIES)
        receiver = f"http://127.0.0.1:{port}"
        wait_until(lambda: _up(receiver), 30, what="eduhook serve")
        start_worker(**FAST_RETRIES)
        start_beat(**FAST_RETRIES)
        # A Penn Foster outage (retried), item errors, an order, a lead, a cancellation, a permanent failure.
        fault(world.pennfoster, kind="status", status=503, count=2, path=LEARNERS, method="POST")
        httpx.post(world.pennfoster + "/_sandbox/pennfoster/item-errors",
                   json={"code": "E601400001", "count": 1, "target": "learners"})  # fmt: skip
        ids = [
            webhook(receiver, "order.approved", id=world.small_order_id),
            webhook(receiver, "order.approved", id=world.order_25_id),
            webhook(receiver, "order.approved", id=world.no_phone_order_id),
            webhook(receiver, "lead.created", id=world.lead_id),
        ]
        settled(eduhook_settings, *ids)
        canceled = httpx.put(world.eduframe + f"/orders/{world.small_order_id}/cancel",
                             headers={"Authorization": "Bearer eduframe-sandbox-token"})  # fmt: skip
        assert canceled.status_code == 200
        settled(eduhook_settings, webhook(receiver, "order.canceled", id=world.small_order_id))
        rejected = httpx.post(
            receiver + "/webhooks/eduframe", params={"token": "wrong-" + TEST_TOKEN}, json={}
        )
        assert rejected.status_code == 401
    logs = {
        path.name: path.read_text(errors="replace") for path in Path(eduhook_settings.data_dir).glob("*.log")
    }
    assert {"serve-0.log", "worker-0.log", "beat-0.log"} <= set(logs)
    assert "POST /webhooks/eduframe" in logs["serve-0.log"]  # the access log is on, and was read
    leaks = [
        (name, number, value)
        for name, text in logs.items()
        for number, line in enumerate(text.splitlines(), 1)
        for value in SECRETS + PERSONAL
        if value in line
    ]
    assert leaks == []


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False
