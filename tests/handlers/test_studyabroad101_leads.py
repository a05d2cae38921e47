"""StudyAbroad101 leads become Eduframe leads, once each, against the Eduframe sandbox."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest

from eduhook.ledger import EventLedger, EventRecord, NewEvent
from eduhook.settings import StudyAbroad101Program
from handlers.context import HandlerContext
from handlers.errors import PermanentError
from handlers.registry import HandlerResult
from handlers.studyabroad101_leads import LEAD_CREATED, lead_created
from sandbox.studyabroad101.seed import sample_lead
from tests.handlers.conftest import World

NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)


def lead_event(ctx: HandlerContext, lead: dict[str, Any]) -> EventRecord:
    """The event as the poller records it (so effects can point at it), read back from the ledger."""
    ledger = EventLedger(ctx.engine)
    payload = {"source": "studyabroad101", "provider": "sample-provider-1", "lead": lead}
    event_id = f"sa101-{lead['id']}"
    key = f"studyabroad101:sample-provider-1:{lead['id']}"
    ledger.insert_batch([NewEvent(event_id, "sample-provider-1", "studyabroad101", LEAD_CREATED, key,
                                  orjson.dumps(payload).decode(), "received", None, NOW,
                                  source="studyabroad101")])  # fmt: skip
    record = ledger.get(event_id)
    assert record is not None
    return record


def with_programs(ctx: HandlerContext, product: int, unmapped: str = "create") -> HandlerContext:
    programs = [StudyAbroad101Program(program_id=7, catalog_product_id=product)]
    settings = ctx.settings.model_copy(
        update={"studyabroad101_programs": programs, "studyabroad101_unmapped": unmapped}
    )
    return HandlerContext(settings=settings, engine=ctx.engine)


def posted_leads(world: World) -> list[dict[str, Any]]:
    return [call["body"] for call in world.calls(world.eduframe, "/leads")]


def product_of(world: World) -> int:
    return int(next(iter(world.seed.records["catalog_variants"].values()))["product_id"])


def test_a_mapped_lead_is_created_once_with_its_product(world: World, ctx: HandlerContext) -> None:
    mapped = with_programs(ctx, product_of(world))
    lead = sample_lead(11, 7, dt.date(2026, 11, 1), "Application") | {"phone_number": "+1 570 555 0100"}
    event = lead_event(ctx, lead)
    assert lead_created(event, mapped) == HandlerResult()
    assert lead_created(event, mapped) == HandlerResult()  # a redelivery or replay sends nothing
    [body] = posted_leads(world)
    assert (body["first_name"], body["last_name"]) == ("Sample", "Lead Name 11")
    assert body["email"] == "Sample Lead Email 11" and body["phone"] == "+1 570 555 0100"
    assert body["lead_products"] == [{"catalog_product_id": product_of(world)}]
    assert "University: Sample University 11" in body["comment"]
    assert "Study period: Sample Study Period 11" in body["comment"]
    assert "Lead type: Application" in body["comment"]


def test_an_unmapped_lead_is_created_without_a_product_or_ignored(world: World, ctx: HandlerContext) -> None:
    lead = sample_lead(12, 99, dt.date(2026, 11, 1))
    assert lead_created(lead_event(ctx, lead), with_programs(ctx, product_of(world))) == HandlerResult()
    [body] = posted_leads(world)
    assert "lead_products" not in body or body["lead_products"] == []
    ignoring = with_programs(ctx, product_of(world), unmapped="ignore")
    result = lead_created(lead_event(ctx, sample_lead(13, 99, dt.date(2026, 11, 1))), ignoring)
    assert result == HandlerResult.ignored("program 99 is not in [[studyabroad101.programs]]")
    assert len(posted_leads(world)) == 1


def test_eduframe_refusing_the_lead_is_permanent_and_names_the_fields(
    world: World, ctx: HandlerContext
) -> None:
    lead = sample_lead(14, 7, dt.date(2026, 11, 1)) | {"phone_number": "call me maybe"}
    with pytest.raises(PermanentError, match="phone") as raised:
        lead_created(lead_event(ctx, lead), with_programs(ctx, product_of(world)))
    assert "call me maybe" not in str(raised.value) and raised.value.status_code == 422
    assert posted_leads(world) and ctx.engine is not None
