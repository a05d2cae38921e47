"""The console over real HTTP: login, CSRF, headers, pages over a real ledger, bad input as 4xx."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable

import httpx
import orjson
import pytest
from starlette.types import ASGIApp

from eduhook.ledger import EventLedger, NewEvent, create_engine_for, schema
from eduhook.ledger.replays import ReplayLedger
from eduhook.settings import Settings
from sandbox.server import RunningServer
from tests.conftest import wait_until
from tests.console.conftest import PASSWORD, SECRET, users

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def csrf(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text[:500]
    return match.group(1)


def logged_in(url: str, user: str = "ops") -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=10)
    token = csrf(client.get("/login"))
    answer = client.post("/login", data={"username": user, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    return client


def record(settings: Settings, n: int, *, status: str = "dead", educator: str = "acme") -> list[str]:
    engine = create_engine_for(settings.effective_database_url)
    ledger = EventLedger(engine)
    ids = [str(uuid.uuid4()) for _ in range(n)]
    batch = []
    for i, event_id in enumerate(ids):
        payload = {"educator": educator, "event": "order.approved", "tenant_id": "t",
                   "event_data": {"id": i, "email": f"learner{i}@example.com"}}  # fmt: skip
        body = orjson.dumps(payload).decode()
        received = NOW + dt.timedelta(minutes=i)
        batch.append(
            NewEvent(event_id, educator, "t", "order.approved", event_id, body, "received", None, received)
        )
    ledger.insert_batch(batch)
    with engine.begin() as conn:
        conn.execute(
            schema.events.update().where(schema.events.c.id.in_(ids)).values(
                status=status, last_partner="pennfoster", last_error_class="transient", last_http_status=503,
                status_reason="still failing after 3 attempts",
            )
        )  # fmt: skip
    engine.dispose()
    return ids


def test_pages_need_a_login_and_send_the_security_headers(console_url: str) -> None:
    client = httpx.Client(base_url=console_url)
    for path in ("/", "/events", "/dead-letters", "/audit", f"/events/{uuid.uuid4()}"):
        answer = client.get(path, follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/login")
    page = client.get("/login")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in page.text and "onclick" not in page.text
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie


def test_wrong_passwords_are_refused_then_slowed_down(console_url: str) -> None:
    client = httpx.Client(base_url=console_url)
    token = csrf(client.get("/login"))
    statuses = [
        client.post("/login", data={"username": "ops", "password": "nope", "csrf_token": token}).status_code
        for _ in range(3)
    ]
    assert statuses == [401, 401, 401]
    # Locked out now, even with the right password, and told for how long.
    locked = client.post("/login", data={"username": "ops", "password": PASSWORD, "csrf_token": token})
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert "nope" not in locked.text


def test_forms_without_the_csrf_token_or_a_login_are_refused(
    console_url: str, eduhook_settings: Settings
) -> None:
    [dead] = record(eduhook_settings, 1)
    anonymous = httpx.Client(base_url=console_url)
    assert anonymous.post("/login", data={"username": "ops", "password": PASSWORD}).status_code == 403
    token = csrf(anonymous.get("/login"))
    refused = anonymous.post("/replay", data={"event_ids": dead, "reason": "x", "csrf_token": token})
    assert refused.status_code == 403
    client = logged_in(console_url)
    assert client.post("/replay", data={"event_ids": dead, "reason": "x"}).status_code == 403
    assert client.post("/logout", data={}).status_code == 403
    assert ReplayLedger(create_engine_for(eduhook_settings.effective_database_url)).audit() == []


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/events/00000000-0000-4000-8000-000000000000", 404),
        ("/events?since=yesterday", 400),
        ("/events?status=sleeping", 400),
        ("/events?cursor=bm90LWEtY3Vyc29y", 400),
        ("/events?limit=5000", 400),
        ("/dead-letters?error_class=%00", 400),
        ("/replays/999", 404),
        ("/nowhere", 404),
    ],
)
def test_bad_input_gets_a_4xx_page(console_url: str, path: str, status: int) -> None:
    answer = logged_in(console_url).get(path)
    assert answer.status_code == status
    assert "Traceback" not in answer.text and "<h1>That did not work</h1>" in answer.text


def test_replay_refuses_what_is_not_dead_and_oversized_forms(
    console_url: str, eduhook_settings: Settings
) -> None:
    [done] = record(eduhook_settings, 1, status="succeeded")
    client = logged_in(console_url)
    token = csrf(client.get("/dead-letters"))
    not_dead = client.post("/replay", data={"event_ids": done, "reason": "x", "csrf_token": token})
    assert not_dead.status_code == 409 and "not dead" in not_dead.text
    unknown = client.post(
        "/replay", data={"event_ids": str(uuid.uuid4()), "reason": "x", "csrf_token": token}
    )
    assert unknown.status_code == 404
    no_reason = client.post("/replay", data={"event_ids": done, "csrf_token": token})
    assert no_reason.status_code == 422
    huge = client.post("/replay", data={"event_ids": "x" * 300_000, "reason": "x", "csrf_token": token})
    assert huge.status_code == 413


def test_events_page_filters_and_pages_with_a_cursor(console_url: str, eduhook_settings: Settings) -> None:
    ids = record(eduhook_settings, 30)
    record(eduhook_settings, 3, status="succeeded", educator="globex")
    client = logged_in(console_url)
    first = client.get("/events", params={"status": "dead", "limit": 25})
    shown = re.findall(r'data-event-id="([^"]+)"', first.text)
    assert shown == ids[::-1][:25]
    cursor = re.search(r'id="next-page" href="\?([^"]+)"', first.text)
    assert cursor
    second = client.get("/events?" + cursor.group(1).replace("&amp;", "&"))
    assert re.findall(r'data-event-id="([^"]+)"', second.text) == ids[::-1][25:]
    oldest = client.get("/events", params={"educator": "acme", "order": "asc", "limit": 25})
    assert re.findall(r'data-event-id="([^"]+)"', oldest.text)[0] == ids[0]


def test_detail_redacts_and_a_pii_user_unredacts_with_an_audit_entry(
    console_url: str, eduhook_settings: Settings
) -> None:
    [event_id] = record(eduhook_settings, 1)
    ops = logged_in(console_url)
    page = ops.get(f"/events/{event_id}")
    assert page.status_code == 200 and "example.com" not in page.text and "[redacted]" in page.text
    refused = ops.post(f"/events/{event_id}/unredact", data={"reason": "x", "csrf_token": csrf(page)})
    assert refused.status_code == 403
    dpo = logged_in(console_url, "dpo")
    page = dpo.get(f"/events/{event_id}")
    shown = dpo.post(f"/events/{event_id}/unredact", data={"reason": "subject access request",
                                                           "csrf_token": csrf(page)})  # fmt: skip
    assert shown.status_code == 200 and "learner0@example.com" in shown.text
    [entry] = ReplayLedger(create_engine_for(eduhook_settings.effective_database_url)).audit()
    assert (entry.action, entry.actor, entry.reason, entry.event_ids) == (
        "unredact",
        "dpo",
        "subject access request",
        [event_id],
    )


def test_all_matching_the_filter_previews_then_replays_through_the_cli_path(
    console_url: str, eduhook_settings: Settings
) -> None:
    import redis

    from workers.messages import DEFAULT_QUEUE

    ids = record(eduhook_settings, 3)
    other = record(eduhook_settings, 2, educator="globex")
    client = logged_in(console_url)
    page = client.get("/dead-letters", params={"educator": "acme"})
    fields = {"csrf_token": csrf(page), "all_matching": "1", "educator": "acme", "reason": "outage over"}
    preview = client.post("/replay", data=fields | {"dry_run": "1"})
    assert preview.status_code == 200 and "Would replay <strong>3</strong> dead letters" in preview.text
    assert 'name="educator" value="acme"' in preview.text  # the confirmation keeps the filter
    engine = create_engine_for(eduhook_settings.effective_database_url)
    replays = ReplayLedger(engine)
    assert replays.audit() == [] and set(replays.statuses(ids).values()) == {"dead"}
    started = client.post("/replay", data=fields)
    assert started.status_code == 303
    audit_id = int(started.headers["location"].rsplit("/", 1)[1])
    broker = redis.Redis.from_url(eduhook_settings.redis_url or "")

    def replayed() -> bool:
        return bool(replays.audit()[0].queued == 3)

    wait_until(replayed, 20, "the replay to queue 3 events")
    [entry] = replays.audit()
    assert (entry.id, entry.actor, entry.reason, entry.selection) == (
        audit_id,
        "ops",
        "outage over",
        {"filter": {"status": "dead", "educator": "acme"}},
    )
    assert sorted(entry.event_ids) == sorted(ids)
    assert set(replays.statuses(ids).values()) == {"queued"}
    assert set(replays.statuses(other).values()) == {"dead"}
    assert broker.llen(DEFAULT_QUEUE) == 3
    progress = client.get(f"/replays/{audit_id}")
    assert progress.status_code == 200
    assert 'data-done="no"' in progress.text and "data-refresh" in progress.text
    broker.close()
    engine.dispose()


def test_the_cookie_is_secure_when_the_console_is_served_over_https(
    eduhook_settings: Settings, serve: Callable[[ASGIApp], RunningServer]
) -> None:
    from console.app import create_app

    settings = eduhook_settings.model_copy(update={"console_https": True})
    app = create_app(settings, redis_url=settings.redis_url or "", users=users(), secret=SECRET)
    cookie = httpx.get(serve(app).url + "/login").headers["set-cookie"].lower()
    assert "; secure" in cookie and "samesite=strict" in cookie and "httponly" in cookie
