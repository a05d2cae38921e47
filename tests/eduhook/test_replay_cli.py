"""``eduhook replay``, ``dlq`` and ``audit``: what they refuse, and what they say, against a real ledger."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest
from click.testing import CliRunner, Result

from eduhook.cli.main import cli
from eduhook.ledger import EventLedger, create_engine_for
from eduhook.ledger.events import AttemptOutcome
from eduhook.settings import Settings
from tests.conftest import settings_env
from tests.eduhook.test_ledger import new

NOW = dt.datetime.now(dt.UTC)


def invoke(settings: Settings, *args: str, stdin: str | None = None) -> Result:
    env = {k: v for k, v in settings_env(settings).items() if k.startswith("EDUHOOK_")}
    return CliRunner().invoke(cli, list(args), env=env, input=stdin)


@pytest.fixture
def ledger(eduhook_settings: Settings) -> EventLedger:
    """A ledger holding one dead, one succeeded, one received and one failed event."""
    ledger = EventLedger(create_engine_for(eduhook_settings.effective_database_url))
    ledger.insert_batch([new("dead-1", "k1"), new("done-1", "k2"), new("new-1", "k3"), new("wait-1", "k4")])
    dead = AttemptOutcome(
        status="dead",
        outcome="failed",
        reason="permanent error: retrying cannot help",
        error_class="permanent",
        error_message="no phone",
        partner="pennfoster",
        partner_code="E601400001",
    )
    later = AttemptOutcome(
        status="failed",
        outcome="failed",
        error_class="transient",
        next_attempt_at=NOW + dt.timedelta(hours=1),
    )
    succeeded = AttemptOutcome(status="succeeded", outcome="succeeded")
    for event_id, outcome in (("dead-1", dead), ("done-1", succeeded), ("wait-1", later)):
        began = ledger.begin_attempt(event_id, "w", NOW)
        assert began is not None
        ledger.finish_attempt(event_id, began[1], outcome, NOW)
    return ledger


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give event ids, or --dead or --failed"),
        (("dead-1", "--dead"), "give event ids, or --dead or --failed"),
        (("dead-1", "--partner", "pennfoster"), "filters go with --dead or --failed"),
        (("--dead", "--yes"), "--reason is required for a bulk replay"),
        (("--dead", "--since", "yesterday", "--reason", "x"), "is not an ISO 8601 time"),
    ],
)
def test_replay_refuses_unclear_requests(
    eduhook_settings: Settings, args: tuple[str, ...], message: str
) -> None:
    result = invoke(eduhook_settings, "replay", *args)
    assert result.exit_code == 2 and message in result.output


def test_unknown_ids_or_an_empty_selection_queue_nothing_and_exit_1(
    eduhook_settings: Settings, ledger: EventLedger
) -> None:
    unknown = invoke(eduhook_settings, "replay", "dead-1", "nope", "--reason", "x")
    assert unknown.exit_code == 1 and "unknown event ids: nope; nothing was queued" in unknown.output
    nothing = invoke(eduhook_settings, "replay", "--dead", "--type", "lead.created", "--reason", "x", "--yes")
    assert nothing.exit_code == 1 and "no dead events match the filters" in nothing.output
    finished = invoke(eduhook_settings, "replay", "done-1")
    assert finished.exit_code == 1 and "succeeded; --force replays it anyway" in finished.output
    assert [e.status for e in map(ledger.get, ("dead-1", "done-1"))] == ["dead", "succeeded"]  # type: ignore[union-attr]
    assert orjson.loads(invoke(eduhook_settings, "audit", "list", "--json").output or "null") is None


def test_a_bulk_replay_asks_first_and_a_no_changes_nothing(
    eduhook_settings: Settings, ledger: EventLedger
) -> None:
    declined = invoke(eduhook_settings, "replay", "--dead", "--reason", "x", stdin="n\n")
    assert declined.exit_code == 1 and "Replay 1 dead events?" in declined.output
    event = ledger.get("dead-1")
    assert event is not None and event.status == "dead"


def test_a_replay_by_id_queues_it_with_a_fresh_budget_and_is_audited(
    eduhook_settings: Settings, ledger: EventLedger
) -> None:
    result = invoke(
        eduhook_settings, "replay", "dead-1", "new-1", "--reason", "fixed", "--actor", "ana", "--json"
    )
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.output.splitlines()[-1])
    assert (summary["queued"], summary["queued_ids"], summary["skipped"]) == (2, ["dead-1", "new-1"], 0)
    event = ledger.get("dead-1")
    assert event is not None and (event.status, event.retry_base) == ("queued", 1)
    [entry] = [
        orjson.loads(line) for line in invoke(eduhook_settings, "audit", "list", "--json").output.splitlines()
    ]
    assert (entry["actor"], entry["reason"], entry["selection"]) == (
        "ana",
        "fixed",
        {"ids": ["dead-1", "new-1"]},
    )
    table = invoke(eduhook_settings, "audit", "list").output
    assert "ana" in table and "fixed" in table


def test_failed_runs_waiting_retries_now(eduhook_settings: Settings, ledger: EventLedger) -> None:
    result = invoke(eduhook_settings, "replay", "--failed", "--reason", "partner is back", "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert orjson.loads(result.output.splitlines()[-1])["queued_ids"] == ["wait-1"]
    event = ledger.get("wait-1")
    assert event is not None and (event.status, event.next_attempt_at) == ("queued", None)


def test_dlq_list_stats_and_show(eduhook_settings: Settings, ledger: EventLedger) -> None:
    listed = invoke(eduhook_settings, "dlq", "list")
    assert listed.exit_code == 0 and "dead-1" in listed.output and "E601400001" in listed.output
    assert "done-1" not in listed.output
    assert (
        invoke(eduhook_settings, "dlq", "list", "--partner", "appsembler").output.strip() == "no dead events"
    )
    stats = orjson.loads(invoke(eduhook_settings, "dlq", "stats", "--json").output)
    assert stats == {"dead": 1, "groups": [{"partner": "pennfoster", "error_class": "permanent",
                                            "partner_code": "E601400001", "count": 1}]}  # fmt: skip
    shown = orjson.loads(invoke(eduhook_settings, "dlq", "show", "dead-1", "--json").output)
    assert shown["reason"] == "permanent error: retrying cannot help"
    assert [a["outcome"] for a in shown["attempts_detail"]] == ["failed"]
    missing = invoke(eduhook_settings, "dlq", "show", "nope")
    assert missing.exit_code == 1 and "no event with id nope" in missing.output


def test_help_lists_the_failure_commands() -> None:
    output = CliRunner().invoke(cli, ["--help"]).output
    for command in ("dlq", "replay", "audit"):
        assert command in output
    replay_help = CliRunner().invoke(cli, ["replay", "--help"]).output
    for option in ("--dead", "--failed", "--dry-run", "--rate", "--reason", "--force", "--yes", "--json"):
        assert option in replay_help
