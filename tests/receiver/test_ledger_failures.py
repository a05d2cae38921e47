"""A ledger that fails inside a group-commit batch: every request of the batch gets 503, none a 2xx.

The failures are the database's own: a trigger that rejects the insert (both backends), and on
PostgreSQL a deferred constraint trigger that rejects the commit.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from eduhook.settings import Settings
from tests.receiver.test_webhooks import broker_ids, envelope, ledger_for, post

SQLITE_REJECT_INSERT = (
    "CREATE TRIGGER reject_events BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'disk full'); END"
)
POSTGRES_FUNCTION = (
    "CREATE FUNCTION reject_events() RETURNS trigger LANGUAGE plpgsql AS"
    " $$ BEGIN RAISE EXCEPTION 'disk full'; END $$"
)
POSTGRES_TRIGGERS = {
    "insert": (
        "CREATE TRIGGER reject_events BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION reject_events()"
    ),
    "commit": (
        "CREATE CONSTRAINT TRIGGER reject_events AFTER INSERT ON events DEFERRABLE INITIALLY DEFERRED"
        " FOR EACH ROW EXECUTE FUNCTION reject_events()"
    ),
}


def failing(settings: Settings, stage: str) -> None:
    engine = sa.create_engine(settings.effective_database_url)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(sa.text(SQLITE_REJECT_INSERT))
        else:
            conn.execute(sa.text(POSTGRES_FUNCTION))
            conn.execute(sa.text(POSTGRES_TRIGGERS[stage]))
    engine.dispose()


def healed(settings: Settings) -> None:
    engine = sa.create_engine(settings.effective_database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("DROP TRIGGER reject_events" + ("" if engine.dialect.name == "sqlite" else " ON events"))
        )
    engine.dispose()


def test_a_failed_write_answers_503_to_the_whole_batch(receiver_url: str, eduhook_settings: Settings) -> None:
    batch_fails_then_heals(receiver_url, eduhook_settings, "insert")


# SQLite has no deferred constraints: only PostgreSQL's commit can be made to fail from SQL.
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_failed_commit_answers_503_to_the_whole_batch(
    receiver_url: str, eduhook_settings: Settings
) -> None:
    batch_fails_then_heals(receiver_url, eduhook_settings, "commit")


def batch_fails_then_heals(receiver_url: str, eduhook_settings: Settings, stage: str) -> None:
    failing(eduhook_settings, stage)
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda n: post(receiver_url, envelope(id=n)), range(48)))
    assert {a.status_code for a in answers} == {503}
    assert all(a.headers["Retry-After"].isdigit() for a in answers)
    assert ledger_for(eduhook_settings).search() == []
    assert eduhook_settings.redis_url and broker_ids(eduhook_settings.redis_url) == []

    healed(eduhook_settings)  # the ledger recovers: the same deliveries are accepted on retry
    again = post(receiver_url, envelope(id=1))
    assert again.status_code == 202 and again.json()["status"] == "queued"
