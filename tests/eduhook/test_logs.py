"""``eduhook/logs.py`` in a fresh interpreter, as each eduhook process configures it."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from eduhook.logs import log_context
from tests.conftest import REPO_ROOT

SCRIPT = """
import logging, warnings
from eduhook.logs import configure_logging, log_context
configure_logging(level="info", log_format={fmt!r}, tokens=["tok-0123456789"])
log = logging.getLogger("eduhook.worker")
log.info("outside")
with log_context(event_id="e-1", event_type="order.approved", educator="acme", attempt=2):
    with log_context(partner="pennfoster"):
        log.info("GET /x?token=%s and %s", "abc", "tok-0123456789")
    log.warning("after the partner call", extra={{"partner": "appsembler"}})
logging.getLogger("uvicorn.access").debug("hidden at info")
warnings.warn("a warning")
"""


def _run(fmt: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(fmt=fmt)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stderr.splitlines()


def test_json_lines_carry_the_context_and_tokens_stay_redacted() -> None:
    records = [orjson.loads(line) for line in _run("json")]
    assert [r["msg"] for r in records[:3]] == [
        "outside",
        "GET /x?token=[redacted] and [redacted]",
        "after the partner call",
    ]
    assert all({"ts", "level", "logger", "msg"} <= set(r) for r in records)
    assert records[0]["logger"] == "eduhook.worker" and records[0]["level"] == "INFO"
    assert "event_id" not in records[0]
    context = {"event_id": "e-1", "event_type": "order.approved", "educator": "acme", "attempt": 2}
    assert records[1].items() >= {**context, "partner": "pennfoster"}.items()
    assert records[2].items() >= {**context, "partner": "appsembler"}.items()
    assert records[3]["logger"] == "py.warnings" and "a warning" in records[3]["msg"]
    assert len(records) == 4
    assert records[1]["ts"].endswith("+00:00")


def test_text_stays_the_default_format_for_people() -> None:
    lines = _run("text")
    assert " INFO eduhook.worker: GET /x?token=[redacted] and [redacted]" in lines[1]
    assert "tok-0123456789" not in "\n".join(lines)


def test_the_context_takes_only_its_known_fields() -> None:
    with pytest.raises(TypeError, match="not a log context field: email"), log_context(email="x"):
        pass
