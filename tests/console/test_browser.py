"""The console in a real browser (Playwright driving Debian's chromium) over a real stack.

Receiver, worker, beat, Redis, the ledger and the partner sandboxes run as in production. Penn
Foster goes down, events die, and an operator finds, previews and replays them from the page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright import sync_api as playwright_api
from starlette.types import ASGIApp

from console.app import create_app
from eduhook.ledger import EventLedger, create_engine_for
from eduhook.ledger.replays import ReplayLedger
from eduhook.settings import Settings
from sandbox.server import RunningServer
from tests.console.conftest import PASSWORD, SECRET, users
from tests.handlers import conftest as stack
from tests.handlers.conftest import World
from tests.handlers.test_e2e import webhook
from tests.handlers.test_failures import orders_dead_in_an_outage, settled

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
StartProcess = Callable[..., subprocess.Popen[bytes]]
# The real stack's fixtures: the partner sandboxes, and settings routing to them.
world = stack.world
eduhook_settings = stack.eduhook_settings
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """One ledger is enough here: the pages' SQL is tested on both databases in test_app.py."""
    return f"sqlite:///{tmp_path / 'eduhook.db'}"


@pytest.fixture
def browser() -> Iterator[playwright_api.Browser]:
    with playwright_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield launched
        launched.close()


def shoot(page: playwright_api.Page, name: str, tmp_path: Path) -> None:
    """A screenshot in the test's folder; copied to EDUHOOK_SCREENSHOTS (docs/screenshots) if set."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if target := os.environ.get("EDUHOOK_SCREENSHOTS"):
        shutil.copy(path, Path(target) / path.name)


def row_ids(page: playwright_api.Page, selector: str) -> list[str]:
    return sorted(r.get_attribute("data-event-id") or "" for r in page.query_selector_all(selector))


def test_an_operator_finds_previews_and_replays_dead_letters_in_a_browser(
    world: World, receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess,
    start_beat: StartProcess, serve: Callable[[ASGIApp], RunningServer], browser: playwright_api.Browser,
    tmp_path: Path,
) -> None:  # fmt: skip
    # Penn Foster is down: two orders die after three attempts; an unknown event type is ignored.
    ids = orders_dead_in_an_outage(world, receiver_url, start_worker, start_beat)
    ignored = webhook(receiver_url, "user.updated", id=1)
    assert [e.status for e in settled(eduhook_settings, *ids, ignored)] == ["dead", "dead", "ignored"]

    assert eduhook_settings.redis_url
    app = create_app(eduhook_settings, redis_url=eduhook_settings.redis_url, users=users(), secret=SECRET)
    url = serve(app).url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))

    # A wrong password is refused; the right one opens the overview.
    page.goto(url + "/")
    assert page.url == url + "/login"
    page.fill("input[name=username]", "ops")
    page.fill("input[name=password]", "wrong password")
    with page.expect_response(url + "/login") as answer:
        page.click("button[type=submit]")
    assert answer.value.status == 401 and "Wrong user name or password" in page.inner_text("#login-error")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/")

    # The overview's numbers are the ledger's.
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    counts = ledger.count_by_status()
    shown = {row.get_attribute("data-status"): int(row.inner_text().split()[-1])
             for row in page.query_selector_all("#by-status tr")}  # fmt: skip
    assert {s: n for s, n in shown.items() if n} == counts == {"dead": 2, "ignored": 1}
    assert page.inner_text("#queue tr[data-item=dead] td") == "2"
    assert "pennfoster" in page.inner_text("#dead-groups") and "transient" in page.inner_text("#dead-groups")
    assert row_ids(page, "#last-dead tbody tr") == sorted(ids)
    shoot(page, "overview", tmp_path)

    # Filter the dead letters: Penn Foster's transient failures are both; another educator's none.
    page.click("nav >> text=Dead letters")
    page.fill("input[name=educator]", "nobody")
    page.click("text=Filter")
    assert "No dead letters match" in page.inner_text("#dead-letters")
    page.fill("input[name=educator]", "")
    page.fill("input[name=partner]", "pennfoster")
    page.select_option("select[name=error_class]", "transient")
    page.click("text=Filter")
    assert row_ids(page, "#dead-letters tbody tr[data-event-id]") == sorted(ids)
    shoot(page, "dead-letters", tmp_path)
    filtered = page.url

    # One event's detail: three attempts at Penn Foster, each a 503; the payload redacted.
    page.click(f"tr[data-event-id='{ids[0]}'] a")
    assert page.query_selector_all("#attempts tbody tr").__len__() == 3
    assert [c.inner_text() for c in page.query_selector_all("#attempts tbody td:nth-child(7)")] == ["503"] * 3
    assert "example.com" not in page.inner_text("#payload")
    assert "pennfoster:learner:acme:" in page.inner_text("#effects")
    shoot(page, "event-detail", tmp_path)

    # Select every row, preview: nothing changes. Penn Foster comes back; replay with a reason.
    page.goto(filtered)
    page.check("#select-all")
    page.fill("#reason", "Penn Foster outage over")
    page.click("#dry-run")
    assert "Would replay 2 dead letters" in page.inner_text("#plan-summary")
    assert {e.status for e in settled(eduhook_settings, *ids)} == {"dead"}
    assert httpx.delete(world.pennfoster + "/_sandbox/faults").status_code == 200
    page.click("#replay")
    page.wait_for_selector("#progress[data-done=yes]", timeout=90_000)
    assert page.inner_text("#replayed").count("succeeded") == 2
    assert [e.status for e in settled(eduhook_settings, *ids)] == ["succeeded"] * 2

    # The audit has it: who, why, what.
    page.click("nav >> text=Audit")
    audit_row = page.inner_text("#audit tbody tr")
    assert "replay" in audit_row and "ops" in audit_row and "Penn Foster outage over" in audit_row
    [entry] = ReplayLedger(ledger.engine).audit()
    assert (entry.actor, entry.queued, sorted(entry.event_ids)) == ("ops", 2, sorted(ids))

    # A form without its CSRF token is refused, and so is any change without a login.
    no_token = page.request.post(url + "/replay", form={"event_ids": ids[0], "reason": "again"})
    assert no_token.status == 403
    token = page.get_attribute("input[name=csrf_token]", "value")
    assert token
    stranger = browser.new_context().request
    assert (
        stranger.post(url + "/replay", form={"event_ids": ids[0], "reason": "x", "csrf_token": token}).status
        == 403
    )
    page.click("text=Log out")
    page.wait_for_url(url + "/login")
    after = page.request.post(url + "/replay", form={"event_ids": ids[0], "reason": "x", "csrf_token": token})
    assert after.status == 403
    assert len(ReplayLedger(ledger.engine).audit()) == 1
    ledger.engine.dispose()

    # Every request the page made went to the console itself: no CDN, no font, no tracker.
    assert hosts == {urlparse(url).netloc}
    assert re.fullmatch(r"127\.0\.0\.1:\d+", urlparse(url).netloc)
