"""Hostile input through a real uvicorn: one bad request never hurts another, nothing bad is recorded.

Where the database matters (NUL characters, refused rows, locks) each test runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.types import ASGIApp

from eduhook.ledger import create_engine_for, upgrade
from eduhook.ledger.database import MIGRATIONS
from eduhook.settings import Settings
from handlers.registry import HandlerRegistry
from receiver.app import create_app
from receiver.envelope import MAX_DEPTH
from sandbox.server import RunningServer
from tests.conftest import TEST_TOKEN
from tests.receiver.test_webhooks import URL, envelope, ledger_for, post

Serve = Callable[[ASGIApp], RunningServer]


def nul_envelope(field: str, n: int) -> dict[str, Any]:
    body = envelope(id=n)
    body[field] = "acme\u0000" if field == "educator" else f"{body[field]}\u0000"
    return body


@pytest.mark.parametrize("field", ["educator", "event", "tenant_id"])
def test_a_nul_among_30_good_requests_is_422_alone(
    receiver_url: str, eduhook_settings: Settings, field: str
) -> None:
    bodies = [envelope(id=n) for n in range(30)]
    bodies.insert(15, nul_envelope(field, 99))
    with ThreadPoolExecutor(31) as pool:
        answers = list(pool.map(lambda body: post(receiver_url, body), bodies))
    statuses = [a.status_code for a in answers]
    assert statuses.count(202) == 30 and statuses[15] == 422
    assert answers[15].json()["fields"] == {field: "must not contain control characters"}
    assert len(ledger_for(eduhook_settings).search()) == 30


@pytest.mark.parametrize("character", ["\u0007", "\u001b", "\u007f", "\u0085"])
def test_other_control_characters_are_refused_too(receiver_url: str, character: str) -> None:
    answer = post(receiver_url, envelope() | {"tenant_id": f"t{character}1"})
    assert answer.status_code == 422
    assert answer.json()["fields"] == {"tenant_id": "must not contain control characters"}


def nested(depth: int) -> bytes:
    """An envelope whose whole document nests ``depth`` levels (the envelope itself is level 1),
    written as text: Python's own encoders stop long before a hostile sender does."""
    data = b'{"child":' * (depth - 2) + b'{"id":1}' + b"}" * (depth - 2)
    return b'{"tenant_id":"t","educator":"acme","event":"order.approved","event_data":' + data + b"}"


def test_nesting_is_accepted_up_to_the_limit_and_refused_past_it(
    receiver_url: str, eduhook_settings: Settings
) -> None:
    assert post(receiver_url, nested(MAX_DEPTH)).status_code == 202
    past = post(receiver_url, nested(MAX_DEPTH + 1))
    assert past.status_code == 422
    assert "deeper than 64 levels" in past.json()["fields"]["body"]
    for depth in (254, 255, 1000):  # once a RecursionError and a 500
        assert post(receiver_url, nested(depth)).status_code == 422
    lists = b'{"tenant_id":"t","educator":"acme","event":"order.approved","event_data":{"a":' + b"[" * 5000
    assert post(receiver_url, lists + b"]" * 5000 + b"}}").status_code in (400, 422)
    assert len(ledger_for(eduhook_settings).search()) == 1


# A row the database refuses on its own: SQLite aborts it, PostgreSQL raises a data exception.
SQLITE_REFUSE = (
    "CREATE TRIGGER refuse_poison BEFORE INSERT ON events WHEN NEW.tenant_id = 'poison'"
    " BEGIN SELECT RAISE(ABORT, 'refused'); END"
)
POSTGRES_REFUSE = (
    "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF NEW.tenant_id = 'poison' THEN RAISE EXCEPTION 'refused' USING ERRCODE = 'data_exception'; END IF;"
    " RETURN NEW; END $$"
)


def test_a_row_the_database_refuses_fails_alone(receiver_url: str, eduhook_settings: Settings) -> None:
    engine = sa.create_engine(eduhook_settings.effective_database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(sa.text(SQLITE_REFUSE))
        else:
            conn.execute(sa.text(POSTGRES_REFUSE))
            conn.execute(
                sa.text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON events"
                    " FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
    engine.dispose()
    bodies = [envelope(id=n) for n in range(30)]
    bodies.insert(7, envelope(id=99) | {"tenant_id": "poison"})
    with ThreadPoolExecutor(31) as pool:
        answers = list(pool.map(lambda body: post(receiver_url, body), bodies))
    statuses = [a.status_code for a in answers]
    assert statuses.count(202) == 30
    # PostgreSQL says the value is wrong (a redelivery cannot help); SQLite's abort is unexplained.
    assert statuses[7] == (422 if eduhook_settings.effective_database_url.startswith("postgresql") else 503)
    assert len(ledger_for(eduhook_settings).search()) == 30


@contextlib.contextmanager
def ledger_locked(url: str) -> Iterator[None]:
    """Another connection's writer holding the ledger's write lock until the block ends."""
    if url.startswith("sqlite"):
        writer = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        return
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        transaction = conn.begin()
        conn.execute(sa.text("LOCK TABLE events IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            transaction.rollback()
    engine.dispose()


def test_a_locked_ledger_is_503_within_the_deadline_and_readyz_within_a_second(
    eduhook_settings: Settings, serve: Serve
) -> None:
    settings = eduhook_settings.model_copy(update={"receiver_deadline": 1.0})
    assert settings.redis_url
    base = serve(create_app(settings, redis_url=settings.redis_url)).url
    with ledger_locked(settings.effective_database_url):
        started = time.monotonic()
        answer = post(base, envelope(id=5))
        waited = time.monotonic() - started
        assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
        assert waited < 3.0  # the deadline (1 s) plus slack for a loaded machine, far from 30 s
        with ThreadPoolExecutor(1) as pool:
            blocked = pool.submit(post, base, envelope(id=6))  # keeps the ledger thread busy
            ready_started = time.monotonic()
            ready = httpx.get(base + "/readyz", timeout=10)
            assert time.monotonic() - ready_started < 2.5
            assert blocked.result().status_code == 503
        assert ready.status_code in (200, 503)  # ready or busy, but answered at once
    # Released: the same delivery is recorded once, whether the late write got there first or not.
    again = post(base, envelope(id=5))
    assert again.status_code in (200, 202)
    assert len([e for e in ledger_for(settings).search() if e.data.get("id") == 5]) == 1
    assert httpx.get(base + "/readyz", timeout=5).status_code == 200


def test_readyz_reports_a_busy_ledger_without_waiting_for_it(
    eduhook_settings: Settings, serve: Serve
) -> None:
    settings = eduhook_settings.model_copy(update={"receiver_deadline": 4.0})
    assert settings.redis_url
    base = serve(create_app(settings, redis_url=settings.redis_url)).url
    with ledger_locked(settings.effective_database_url), ThreadPoolExecutor(1) as pool:
        blocked = pool.submit(post, base, envelope(id=8))

        def busy() -> httpx.Response | None:
            ready = httpx.get(base + "/readyz", timeout=5)
            return ready if "busy" in ready.json()["checks"]["ledger"] else None

        ready = _poll(busy, 10)
        assert ready.status_code == 503
        assert blocked.result().status_code == 503


def _poll(probe: Callable[[], httpx.Response | None], timeout: float) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
    raise AssertionError("readyz never reported the ledger busy")


# Tokens ---------------------------------------------------------------------------------------------


def raw_post(base: str, query: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    """A POST whose query string is sent exactly as written (httpx would re-encode params)."""
    return httpx.post(f"{base}{URL}?{query}", json=body, headers=headers, timeout=10)


def percent_encoded(text: str) -> str:
    return "".join(f"%{byte:02X}" for byte in text.encode())


def test_a_percent_encoded_token_name_or_value_is_accepted(receiver_url: str) -> None:
    assert raw_post(receiver_url, f"%74oken={TEST_TOKEN}", envelope(id=1)).status_code == 202
    assert raw_post(receiver_url, f"token={percent_encoded(TEST_TOKEN)}", envelope(id=2)).status_code == 202


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        (f"token=bad&token={TEST_TOKEN}", {}),
        (f"token={TEST_TOKEN}&token=bad", {}),
        (f"token={TEST_TOKEN}&token={TEST_TOKEN}", {}),
        (f"token={TEST_TOKEN}&%74oken={TEST_TOKEN}", {}),
        (f"token={TEST_TOKEN}&TOKEN={TEST_TOKEN}", {}),
        (f"token={TEST_TOKEN}", {"Authorization": f"Bearer {TEST_TOKEN}"}),
        ("token=", {"Authorization": f"Bearer {TEST_TOKEN}"}),
    ],
)
def test_more_than_one_token_is_refused_whatever_their_order(
    receiver_url: str, eduhook_settings: Settings, query: str, headers: dict[str, str]
) -> None:
    answer = raw_post(receiver_url, query, envelope(id=3), **headers)
    assert answer.status_code == 401
    assert "once" in answer.json()["error"]
    assert ledger_for(eduhook_settings).search() == []


def test_the_dedup_key_includes_the_tenant(receiver_url: str, eduhook_settings: Settings) -> None:
    one = post(receiver_url, envelope(id=11) | {"tenant_id": "tenant-a"})
    other = post(receiver_url, envelope(id=11) | {"tenant_id": "tenant-b"})
    again = post(receiver_url, envelope(id=11) | {"tenant_id": "tenant-a"})
    assert (one.status_code, other.status_code, again.status_code) == (202, 202, 200)
    assert again.json()["event_id"] == one.json()["event_id"] != other.json()["event_id"]


def _old_dedup_key(body: dict[str, Any]) -> str:
    """The key as ledger version 2 computed it: without the tenant."""
    import hashlib

    import orjson

    digest = hashlib.sha256()
    for part in (body["educator"], body["event"]):
        digest.update(part.encode())
        digest.update(b"\x00")
    digest.update(orjson.dumps(body["event_data"], option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def test_events_recorded_before_the_tenant_joined_the_key_are_still_duplicates(
    eduhook_settings: Settings, serve: Serve
) -> None:
    assert eduhook_settings.redis_url
    base = serve(create_app(eduhook_settings, redis_url=eduhook_settings.redis_url)).url
    body = envelope(id=21)
    first = post(base, body)
    assert first.status_code == 202
    engine = create_engine_for(eduhook_settings.effective_database_url)
    with engine.begin() as conn:  # back to version 2: the key as it was written then
        conn.execute(sa.text("UPDATE events SET dedup_key = :key"), {"key": _old_dedup_key(body)})
        conn.execute(sa.text("DELETE FROM schema_version WHERE version >= 3"))
    assert upgrade(engine) == (2, len(MIGRATIONS))
    engine.dispose()
    again = post(base, body)
    assert again.status_code == 200 and again.json()["event_id"] == first.json()["event_id"]


# Unexpected errors ---------------------------------------------------------------------------------


class _BrokenRegistry(HandlerRegistry):
    """No handlers, and asking about one event type raises: a defect in the receiver."""

    def handles(self, event_type: str) -> bool:
        if event_type == "order.explodes":
            raise RuntimeError("a defect")
        return super().handles(event_type)


def test_an_unexpected_error_is_a_counted_500_with_one_traceback(
    eduhook_settings: Settings, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    broken = _BrokenRegistry()
    assert eduhook_settings.redis_url
    base = serve(create_app(eduhook_settings, redis_url=eduhook_settings.redis_url, registry=broken)).url
    with caplog.at_level("ERROR", logger="eduhook.receiver"):
        answer = post(base, envelope("order.explodes"))
    assert answer.status_code == 500 and answer.json() == {"error": "internal error"}
    assert [r.exc_info is not None for r in caplog.records if r.name == "eduhook.receiver"] == [True]
    for body, token in (
        (envelope(), "wrong"),
        (b"{", TEST_TOKEN),
        ({"x": 1}, TEST_TOKEN),
        (envelope(id=1), TEST_TOKEN),
    ):
        post(base, body, token=token)
    metrics = httpx.get(base + "/metrics").text
    for status in ("500", "401", "400", "422", "202"):
        assert f'eduhook_webhooks_total{{status="{status}"}} 1.0' in metrics


# Files ----------------------------------------------------------------------------------------------


def test_a_new_sqlite_ledger_and_its_folder_are_private(tmp_path: Any) -> None:
    folder = tmp_path / "data"
    engine = create_engine_for(f"sqlite:///{folder / 'eduhook.db'}")
    upgrade(engine)
    engine.dispose()
    assert folder.stat().st_mode & 0o777 == 0o700
    for name in ("eduhook.db", "eduhook.db-wal", "eduhook.db-shm"):
        path = folder / name
        if path.exists():
            assert path.stat().st_mode & 0o777 == 0o600, name


def test_an_existing_loose_ledger_file_is_tightened(tmp_path: Any) -> None:
    path = tmp_path / "eduhook.db"
    path.touch(mode=0o644)
    path.chmod(0o644)
    create_engine_for(f"sqlite:///{path}").dispose()
    assert path.stat().st_mode & 0o777 == 0o600
