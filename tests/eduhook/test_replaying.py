"""eduhook/replaying.py, the replay that the CLI and the console share: select, plan, run, stop."""

from __future__ import annotations

import pytest

from eduhook.ledger import create_engine_for
from eduhook.ledger.filters import EventFilter
from eduhook.ledger.replays import ReplayLedger
from eduhook.replaying import NothingToReplay, open_replay, plan, run_replay, select
from eduhook.settings import Settings
from tests.console.test_app import record


def test_a_run_publishes_each_chunk_and_a_stopped_run_leaves_the_rest_dead(
    eduhook_settings: Settings,
) -> None:
    ids = record(eduhook_settings, 5)
    engine = create_engine_for(eduhook_settings.effective_database_url)
    selection = select(engine, where=EventFilter(status="dead"))
    assert selection.ids == ids and plan(engine, selection)["would_queue"] == 5
    published: list[list[str]] = []
    audit_id = open_replay(engine, selection, actor="test", reason="why")
    run_replay(engine, audit_id, selection, published.append, rate=2, stopping=lambda: len(published) == 2)
    assert published == [ids[:2], ids[2:4]]
    statuses = ReplayLedger(engine).statuses(ids)
    assert [statuses[i] for i in ids] == ["queued"] * 4 + ["dead"]
    [entry] = ReplayLedger(engine).audit()
    assert (entry.queued, entry.skipped, entry.reason) == (4, 0, "why")
    with pytest.raises(NothingToReplay, match="no dead events match"):
        select(engine, where=EventFilter(status="dead", educator="nobody"))
    engine.dispose()
