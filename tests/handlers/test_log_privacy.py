"""Every line real eduhook processes print, scanned for secrets and personal data: none may appear.

A whole pipeline runs through real processes (receiver, worker, beat, Flower, and CLI commands):
orders, enrollments in a second program, a lead, a cancellation, a Penn Foster outage that is
retried, an item error that makes an event dead, and its replay. Then every line of every log is
searched for every personal value the Eduframe sandbox holds (read back from it) and every secret
of the configuration, the bearer tokens the sandboxes issued included. Once in the default text
format, once as JSON lines at debug level, where each line must also be a JSON object.
"""

from __future__ import annotations

import base64
import contextlib
import re
import subprocess
import sys
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from eduhook.embedded_redis import free_loopback_port
from eduhook.settings import Settings
from tests.conftest import FAST_RETRIES, REPO_ROOT, TEST_TOKEN, eduhook_processes, settings_env, wait_until
from tests.handlers.conftest import LEARNERS, World
from tests.handlers.test_e2e import webhook
from tests.handlers.test_failures import fault, settled

StartProcess = Callable[..., subprocess.Popen[bytes]]
FLOWER_PASSWORD = "flower-Secret-59d2e1"
STUDYABROAD101_KEY = "sa101-secret-key-7be0c4"
# The configuration's secrets (tests/handlers/conftest.py's CONFIG and the environment below).
SECRETS = [
    TEST_TOKEN, "sandbox-client-secret", "sandbox-api-key", "sandbox-appsembler-token",
    "eduframe-sandbox-token", FLOWER_PASSWORD, STUDYABROAD101_KEY,
]  # fmt: skip
MODES = {
    "text": {"EDUHOOK_LOG_FORMAT": "text", "EDUHOOK_LOG_LEVEL": "info"},
    "json-debug": {"EDUHOOK_LOG_FORMAT": "json", "EDUHOOK_LOG_LEVEL": "debug"},
}
# Celery's signal handler writes this straight to stderr, outside logging.
CELERY_SHUTDOWN_NOTICE = ("", "worker: Warm shutdown (MainProcess)")
_PERSONAL_KEYS = ("first_name", "middle_name", "last_name", "email", "phone", "address", "postal_code",
                  "city", "birth_date", "addressee", "address_line2")  # fmt: skip


# Logs do not depend on the ledger's database: each mode runs once, the two databases shared out.
@pytest.mark.parametrize(
    ("database_url", "mode"),
    [("sqlite", "text"), pytest.param("postgres", "json-debug", marks=pytest.mark.postgres)],
    indirect=["database_url"],
)
def test_no_secret_or_personal_value_reaches_any_log(
    mode: str, world: World, eduhook_settings: Settings, start_worker: StartProcess, start_beat: StartProcess
) -> None:
    env = {**FAST_RETRIES, **MODES[mode], "STUDYABROAD101_API_KEY": STUDYABROAD101_KEY}
    data_dir = eduhook_settings.data_dir
    port, flower_port = free_loopback_port(), free_loopback_port()
    with (
        eduhook_processes(eduhook_settings, "serve", ["serve", "--port", str(port)]) as serve,
        eduhook_processes(eduhook_settings, "flower", ["flower", "--port", str(flower_port)]) as flower,
    ):
        serve(**env)
        flower(**env, EDUHOOK_FLOWER_BASIC_AUTH=f"ops:{FLOWER_PASSWORD}")
        receiver = f"http://127.0.0.1:{port}"
        wait_until(lambda: _up(receiver + "/healthz"), 30, what="eduhook serve")
        running = [start_worker(**env, EDUHOOK_TASK_EVENTS="true"), start_beat(**env)]
        # A Penn Foster outage (retried), an item error (dead at once), orders, enrollments in a
        # second program, a lead, a cancellation.
        fault(world.pennfoster, kind="status", status=503, count=2, path=LEARNERS, method="POST")
        httpx.post(world.pennfoster + "/_sandbox/pennfoster/item-errors",
                   json={"code": "E601400001", "count": 1, "target": "learners"})  # fmt: skip
        ids = [
            webhook(receiver, "order.approved", id=world.small_order_id),
            webhook(receiver, "order.approved", id=world.order_25_id),
            webhook(receiver, "order.approved", id=world.no_phone_order_id),
            webhook(receiver, "lead.created", id=world.lead_id),
        ]
        ids += [
            webhook(receiver, "enrollment.created", id=e)
            for e in world.enrollments_of(world.billing_order_id)
        ]
        events = settled(eduhook_settings, *ids)
        dead = [event.id for event in events if event.status == "dead"]
        assert dead, "the item error made an event dead"
        canceled = httpx.put(world.eduframe + f"/orders/{world.small_order_id}/cancel",
                             headers={"Authorization": "Bearer eduframe-sandbox-token"})  # fmt: skip
        assert canceled.status_code == 200
        settled(eduhook_settings, webhook(receiver, "order.canceled", id=world.small_order_id))
        # The operator's commands: what is dead, the replay, the events after it.
        _cli(eduhook_settings, env, "dlq-list", "dlq", "list")
        _cli(eduhook_settings, env, "dlq-show", "dlq", "show", dead[0])
        _cli(eduhook_settings, env, "replay", "replay", "--dead", "--reason", "item error fixed", "--yes")
        replayed = settled(eduhook_settings, *dead)
        # Each replayed event had a fresh attempt; the learner without a phone stays dead.
        assert all(event.attempts > 1 for event in replayed), [e.last_error for e in replayed]
        _cli(eduhook_settings, env, "events-show", "events", "show", dead[0])
        rejected = httpx.post(
            receiver + "/webhooks/eduframe", params={"token": "wrong-" + TEST_TOKEN}, json={}
        )
        assert rejected.status_code == 401
        flower_tasks = httpx.get(f"http://127.0.0.1:{flower_port}/api/tasks", auth=("ops", FLOWER_PASSWORD))
        assert flower_tasks.status_code == 200
        for process in running:  # what they print while stopping is scanned too
            process.terminate()
            process.wait(30)

    logs = {path.name: path.read_text(errors="replace") for path in data_dir.glob("*.log")}
    assert {"serve-0.log", "worker-0.log", "beat-0.log", "flower-0.log", "cli-replay.log"} <= set(logs)
    assert "POST /webhooks/eduframe" in logs["serve-0.log"]  # the access log is on, and was read
    secrets = SECRETS + _issued_tokens(world)
    personal = _personal_values(world)
    assert len(personal) > 100  # the scan looks for something
    patterns = [(value, re.compile(rf"(?<![\w.]){re.escape(value)}(?![\w.])")) for value in personal]
    leaks = [
        (name, number, value)
        for name, text in logs.items()
        for number, line in enumerate(text.splitlines(), 1)
        for value, pattern in [*((s, None) for s in secrets), *patterns]
        if (value in line if pattern is None else pattern.search(line))
    ]
    assert leaks == []
    if mode == "json-debug":
        _check_json_lines(logs)


def _check_json_lines(logs: dict[str, str]) -> None:
    """Every process logs one JSON object per line; the worker's carry the event they are about."""
    worker_records: list[dict[str, Any]] = []
    for name in ("serve-0.log", "worker-0.log", "beat-0.log", "flower-0.log", "cli-replay.log"):
        for line in logs[name].splitlines():
            if name.startswith("cli-") and not line.startswith("{"):
                continue  # the command's own output to a person (a progress line, a summary)
            if name == "worker-0.log" and line in CELERY_SHUTDOWN_NOTICE:
                continue
            record = orjson.loads(line)
            assert isinstance(record, dict), (name, line)
            assert {"ts", "level", "logger", "msg"} <= set(record), (name, line)
            if name == "worker-0.log":
                worker_records.append(record)
    assert any(r["level"] == "DEBUG" for r in worker_records), "the debug run logged at debug level"
    worker_contexts = [r for r in worker_records if r["logger"] == "eduhook.worker"]
    attempts = [r for r in worker_contexts if " attempt " in r["msg"]]
    assert attempts and all({"event_id", "event_type", "educator", "attempt"} <= set(r) for r in attempts)
    assert any(r.get("partner") == "pennfoster" for r in worker_contexts)  # the dead letter's line
    access = [orjson.loads(line) for line in logs["serve-0.log"].splitlines() if "POST /webhooks" in line]
    assert any({"event_id", "event_type", "educator"} <= set(r) for r in access)


def _cli(settings: Settings, env: dict[str, str], name: str, *args: str) -> None:
    """Run an ``eduhook`` command as an operator would, its output kept with the other logs."""
    with open(settings.data_dir / f"cli-{name}.log", "wb") as log:
        done = subprocess.run(
            [sys.executable, "-m", "eduhook.cli", *args],
            env=settings_env(settings, **env),
            cwd=REPO_ROOT,
            stdout=log if name != "replay" else subprocess.DEVNULL,
            stderr=log,
            timeout=120,
        )
    assert done.returncode == 0, (settings.data_dir / f"cli-{name}.log").read_text()


def _personal_values(world: World) -> set[str]:
    """Every personal value in the Eduframe sandbox (users, leads), as given and as eduhook may
    rewrite it for Penn Foster (letters only, digits only)."""
    state = httpx.get(world.eduframe + "/_sandbox/state").json()
    values: set[str] = set()
    for kind in ("users", "leads"):
        records = state[kind].values() if isinstance(state[kind], dict) else state[kind]
        assert records, kind
        for record in records:
            values.update(_strings(record))
    rewritten = set()
    for value in values:
        letters = "".join(c for c in unicodedata.normalize("NFKD", value) if c.isascii() and c.isalpha())
        digits = "".join(c for c in value if c.isdigit())
        rewritten.update({letters} if len(letters) >= 2 and not any(c.isdigit() for c in value) else set())
        rewritten.update({digits, digits[-10:]} if len(digits) >= 10 else set())
    return {v for v in values | rewritten if len(v) >= 2}


def _strings(record: Any, key: str = "") -> Iterator[str]:
    if isinstance(record, dict):
        for sub, value in record.items():
            yield from _strings(value, sub if sub in _PERSONAL_KEYS or key == "custom" else key)
    elif isinstance(record, str) and key in (*_PERSONAL_KEYS, "custom"):
        yield record.strip()


def _issued_tokens(world: World) -> list[str]:
    """The credentials eduhook presented to the sandboxes: bearer tokens, Basic pairs."""
    tokens = set()
    for base in (world.eduframe, world.pennfoster, world.appsembler):
        for request in httpx.get(base + "/_sandbox/requests").json():
            headers = {k.lower(): v for k, v in request.get("headers", {}).items()}
            scheme, _, credential = headers.get("authorization", "").strip().rpartition(" ")
            if not credential:
                continue
            tokens.add(credential)
            if scheme.lower() in ("basic", ""):  # Penn Foster's token request: base64(id:secret), bare
                with contextlib.suppress(ValueError):
                    tokens.add(base64.b64decode(credential, validate=True).decode())
    assert tokens
    return sorted(tokens)


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False
