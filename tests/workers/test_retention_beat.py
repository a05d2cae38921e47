"""Retention as beat runs it: a real receiver, worker and beat; old final payloads become skeletons."""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable

import orjson

from eduhook.ledger import EventLedger, create_engine_for
from eduhook.ledger import schema as s
from eduhook.ledger.replays import ReplayLedger
from eduhook.settings import Settings
from tests.conftest import FAST_RETRIES, wait_until
from tests.receiver.test_webhooks import envelope, post

StartProcess = Callable[..., subprocess.Popen[bytes]]
EMAIL = "ann.tester@example.com"


def test_beat_redacts_old_final_payloads_and_leaves_the_rest(
    receiver_url: str, eduhook_settings: Settings, start_worker: StartProcess, start_beat: StartProcess
) -> None:
    start_worker()
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    ids = {
        name: post(receiver_url, envelope(kind, id=n, student_id=40 + n, email=EMAIL)).json()["event_id"]
        for n, (name, kind) in enumerate(
            [("old-ok", "test.succeed"), ("old-ignored", "test.skip"), ("old-dead", "test.permanent"),
             ("young-ok", "test.succeed")]
        )
    }  # fmt: skip

    def settled() -> bool:
        return all((e := ledger.get(i)) is not None and e.status in s.FINAL_STATUSES for i in ids.values())

    wait_until(settled, 30, what="the events to be processed")
    # The ledger's clock for "older than": these three were received 100 days ago.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=100)
    with ledger.engine.begin() as conn:
        old = [ids["old-ok"], ids["old-ignored"], ids["old-dead"]]
        conn.execute(s.events.update().where(s.events.c.id.in_(old)).values(received_at=past))
    start_beat(**FAST_RETRIES, EDUHOOK_RETENTION_INTERVAL="0.3", EDUHOOK_PAYLOAD_RETENTION_DAYS="90")

    def redacted() -> bool:
        return all(
            (e := ledger.get(ids[n])) is not None and e.payload_redacted_at for n in ("old-ok", "old-ignored")
        )

    wait_until(redacted, 30, what="retention to redact the old final payloads")
    for name in ("old-ok", "old-ignored"):
        event = ledger.get(ids[name])
        assert event is not None
        assert EMAIL not in orjson.dumps(event.payload).decode()
        assert event.data["id"] == list(ids).index(name) and event.data["student_id"] == 40 + list(ids).index(
            name
        )
    for name in ("old-dead", "young-ok"):
        event = ledger.get(ids[name])
        assert event is not None and event.payload_redacted_at is None and event.data["email"] == EMAIL
    entry = next(e for e in ReplayLedger(ledger.engine).audit() if e.action == "retention")
    assert entry.actor == "eduhook beat" and entry.queued == 2
