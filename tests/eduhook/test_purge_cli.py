"""``eduhook events purge``: bad input is refused clearly, --dry-run counts, a purge is audited."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from click.testing import CliRunner

from eduhook.cli.main import cli
from eduhook.ledger import EventLedger, NewEvent, create_engine_for
from eduhook.ledger import schema as s
from eduhook.settings import Settings
from tests.eduhook.test_replay_cli import invoke


@pytest.fixture
def ledger(eduhook_settings: Settings) -> EventLedger:
    """Old events in every final status and a failed one, and one young succeeded event."""
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    now = dt.datetime.now(dt.UTC)
    rows = [("ok", s.SUCCEEDED, 200), ("ign", s.IGNORED, 200), ("dead", s.DEAD, 200), ("fail", s.FAILED, 200),
            ("young", s.SUCCEEDED, 1)]  # fmt: skip
    for event_id, status, days in rows:
        received = now - dt.timedelta(days=days)
        ledger.insert_batch([NewEvent(event_id, "acme", "t", "order.approved", event_id, "{}", "received",
                                      None, received)])  # fmt: skip
        with ledger.engine.begin() as conn:
            conn.execute(s.events.update().where(s.events.c.id == event_id).values(status=status))
    return ledger


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--older-than", "180"), "'180' is not an age: give a whole number and a unit"),
        (("--older-than", "0d"), "is not an age"),
        (("--older-than", "six months"), "is not an age"),
        (("--older-than", "1d", "--status", "failed"), "statuses are succeeded and/or ignored, not failed"),
        (("--older-than", "1d", "--status", "dead"), "dead events need --include-dead"),
        ((), "Missing option '--older-than'"),
    ],
)
def test_bad_input_is_refused_with_exit_2(args: tuple[str, ...], message: str) -> None:
    result = CliRunner().invoke(cli, ["events", "purge", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_dry_run_counts_and_a_purge_deletes_what_it_counted(
    eduhook_settings: Settings, ledger: EventLedger
) -> None:
    dry = invoke(eduhook_settings, "events", "purge", "--older-than", "180d", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert orjson.loads(dry.output)["matching"] == {"succeeded": 1, "ignored": 1}
    text = invoke(eduhook_settings, "events", "purge", "--older-than", "26w", "--include-dead", "--dry-run")
    assert "dry run: would delete 1 dead, 1 ignored, 1 succeeded received before" in text.output
    assert {e.id for e in ledger.search(limit=10)} == {"ok", "ign", "dead", "fail", "young"}
    refused = invoke(eduhook_settings, "events", "purge", "--older-than", "180d", stdin="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    done = invoke(eduhook_settings, "events", "purge", "--older-than", "4320h", "--yes", "--reason", "GDPR")
    assert done.exit_code == 0, done.output
    assert "deleted 2 events (1 ignored, 1 succeeded) and their attempts" in done.output
    assert {e.id for e in ledger.search(limit=10)} == {"dead", "fail", "young"}
    audit = invoke(eduhook_settings, "audit", "list", "--json")
    [entry] = [orjson.loads(line) for line in audit.output.splitlines()]
    assert (entry["action"], entry["queued"], entry["reason"]) == ("purge", 2, "GDPR")
    again = invoke(eduhook_settings, "events", "purge", "--older-than", "180d", "--yes")
    assert again.exit_code == 0 and "nothing deleted" in again.output
