"""Webhook tokens never reach a log line, however a sender encodes or places them."""

from __future__ import annotations

import logging

import httpx
import pytest

from eduhook.embedded_redis import free_loopback_port
from eduhook.settings import Settings
from receiver.logging import REDACTED, RedactTokenFilter, TokenRedactor
from tests.conftest import TEST_TOKEN, eduhook_processes, wait_until
from tests.receiver.test_hardening import percent_encoded
from tests.receiver.test_webhooks import envelope

SECRET = "s3cret-Token_value"
redactor = TokenRedactor([SECRET])


@pytest.mark.parametrize(
    "line",
    [
        f"/webhooks/eduframe?token={SECRET}",
        f"/webhooks/eduframe?%74oken={SECRET}",
        f"/webhooks/eduframe?%2574oken={SECRET}",
        f"/webhooks/eduframe?TOKEN={SECRET}&a=1",
        f"/webhooks/eduframe?token={percent_encoded(SECRET)}",
        f"/webhooks/eduframe?x={percent_encoded(SECRET)}",
        f"/webhooks/eduframe?x=%2573{SECRET[1:]}",
        f"/webhooks/eduframe?token=bad&token={SECRET}",
        f"/webhooks/eduframe/{SECRET}",
        f"/webhooks/{percent_encoded(SECRET[:4])}{SECRET[4:]}/x",
    ],
)
def test_every_encoding_and_place_of_a_token_is_redacted(line: str) -> None:
    shown = redactor(line)
    assert SECRET not in shown and percent_encoded(SECRET) not in shown
    assert REDACTED in shown
    assert shown.startswith("/webhooks/")


def test_other_parameters_and_text_are_left_alone() -> None:
    assert redactor("/webhooks/eduframe?a=1&b=two") == "/webhooks/eduframe?a=1&b=two"
    assert redactor("/webhooks/eduframe?a=1&token=x&b=2") == f"/webhooks/eduframe?a=1&token={REDACTED}&b=2"
    assert TokenRedactor()("?TOKEN=abc") == f"?TOKEN={REDACTED}"


def test_the_filter_rewrites_message_and_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5", "POST", f"/webhooks/eduframe?%74oken={SECRET}", "1.1", 202), None,
    )  # fmt: skip
    RedactTokenFilter([SECRET]).filter(record)
    assert SECRET not in record.getMessage() and REDACTED in record.getMessage()


def test_eduhook_serve_logs_no_token_whatever_the_request(eduhook_settings: Settings) -> None:
    port = free_loopback_port()
    base = f"http://127.0.0.1:{port}"
    encoded = percent_encoded(TEST_TOKEN)
    requests = [
        (f"/webhooks/eduframe?%74oken={TEST_TOKEN}", 202),
        (f"/webhooks/eduframe?token={encoded}", 202),
        (f"/webhooks/eduframe?%2574oken={TEST_TOKEN}", 401),
        (f"/webhooks/eduframe?token=bad&token={TEST_TOKEN}", 401),
        (f"/webhooks/eduframe?token={TEST_TOKEN}&token=bad", 401),
        (f"/webhooks/eduframe?x={TEST_TOKEN}", 401),
        (f"/webhooks/eduframe/{TEST_TOKEN}", 404),
        (f"/webhooks/{encoded}", 404),
    ]
    with eduhook_processes(eduhook_settings, "serve", ["serve", "--port", str(port)]) as serve:
        serve()
        wait_until(lambda: _up(base), 30, what="eduhook serve")
        for n, (target, status) in enumerate(requests):
            answer = httpx.post(base + target, json=envelope(id=n), timeout=10)
            assert answer.status_code == status, target
    log = b"".join(p.read_bytes() for p in eduhook_settings.data_dir.glob("serve-*.log")).decode()
    assert log.count(REDACTED) >= len(requests)
    for secret in (TEST_TOKEN, encoded, encoded.lower(), TEST_TOKEN[:12]):
        assert secret not in log


def _up(base: str) -> bool:
    try:
        return httpx.get(base + "/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
