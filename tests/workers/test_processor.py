"""EventProcessor on a real ledger: a configuration mistake met mid-event is a named configuration error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from eduhook.ledger import EventLedger, NewEvent, create_engine_for, upgrade
from eduhook.settings import Settings
from handlers.context import HandlerContext
from handlers.registry import load_registry
from tests.eduhook.test_startup_checks import MISPLACED_GENDER
from workers.processor import EventProcessor
from workers.retry import RetryPolicy

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def process_one_order(settings: Settings) -> tuple[str, EventLedger]:
    """Record one ``order.approved`` and run it through the built-in handlers once."""
    engine = create_engine_for(settings.effective_database_url)
    upgrade(engine)
    ledger = EventLedger(engine)
    body = {"tenant_id": "t", "educator": "acme", "event": "order.approved", "event_data": {"id": 5001}}
    payload = orjson.dumps(body).decode()
    ledger.insert_batch([NewEvent("e1", "acme", "t", "order.approved", "k1", payload, "queued", None, NOW)])
    processor = EventProcessor(
        ledger=ledger,
        registry=load_registry(["handlers.builtin"]),
        context=HandlerContext(settings=settings, engine=engine, clock=lambda: NOW),
        clock=lambda: NOW,
        policy=RetryPolicy.from_settings(settings),
    )
    return processor.process("e1"), ledger


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("config", "token", "named"),
    [
        (MISPLACED_GENDER, "t", "did you mean `[routes.penn_foster.defaults] gender`?"),
        ("", None, "EDUFRAME_API_TOKEN is not set"),
    ],
    ids=["bad-route", "missing-token"],
)
def test_a_configuration_error_while_processing_is_dead_at_once_and_named(
    tmp_path: Path, database_url: str, config: str, token: str | None, named: str
) -> None:
    path = tmp_path / "eduhook.toml"
    path.write_text(config)
    settings = Settings(config=path, database_url=database_url, data_dir=tmp_path, eduframe_api_token=token)

    result, ledger = process_one_order(settings)

    event = ledger.get("e1")
    assert result == "dead" and event is not None
    assert (event.status, event.attempts, event.last_error_class) == ("dead", 1, "configuration")
    assert event.status_reason == "configuration error: fix the setting named in the error, then replay"
    assert event.last_error is not None and named in event.last_error
    assert "unexpected" not in event.last_error
