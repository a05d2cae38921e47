"""``eduhook events list|show|purge``: what the ledger holds, with personal data redacted."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click
import orjson

from eduhook.cli.effects import event_effects
from eduhook.cli.purge import purge
from eduhook.cli.selection import attempt_detail, echo_listing, engine_of, find_events, summary
from eduhook.ledger.filters import EventFilter
from eduhook.ledger.schema import EVENT_STATUSES
from eduhook.redact import redact

if TYPE_CHECKING:
    from eduhook.cli.main import Context
    from eduhook.ledger import EventLedger


def _ledger(obj: Context) -> EventLedger:
    from eduhook.ledger import EventLedger

    return EventLedger(engine_of(obj))


@click.group()
def events() -> None:
    """Inspect recorded events."""


@events.command("list")
@click.option("--status", type=click.Choice(EVENT_STATUSES), help="Only events in this status.")
@click.option("--type", "event_type", help="Only this event type, e.g. order.approved.")
@click.option("--educator", help="Only this educator slug.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def list_events(
    obj: Context, status: str | None, event_type: str | None, educator: str | None, limit: int, as_json: bool
) -> None:
    """List the newest events."""
    echo_listing(
        find_events(obj, EventFilter(status=status, event_type=event_type, educator=educator), limit),
        as_json=as_json,
        document=summary,
        empty="no events",
        header=f"{'ID':36}  {'TYPE':24}  {'EDUCATOR':16}  {'STATUS':10}  {'TRIES':>5}  RECEIVED",
        row=lambda e: (
            f"{e.id:36}  {e.event_type[:24]:24}  {e.educator[:16]:16}  {e.status:10}  {e.attempts:>5}  "
            f"{e.received_at:%Y-%m-%d %H:%M:%S}"
        ),
    )


@events.command("show")
@click.argument("event_id")
@click.option("--unredacted", is_flag=True, help="Show personal data in the payload (handle with care).")
@click.pass_obj
def show_event(obj: Context, event_id: str, unredacted: bool) -> None:
    """Show one event: status, next attempt, every attempt, its partner effects with every
    generation of each, and the payload (personal fields redacted)."""
    ledger = _ledger(obj)
    try:
        event = ledger.get(event_id)
        attempts = ledger.attempts(event_id) if event else []
        effects = event_effects(ledger.engine, event_id) if event else []
    finally:
        ledger.engine.dispose()
    if event is None:
        raise click.ClickException(f"no event with id {event_id}")
    document = summary(event) | {
        "tenant_id": event.tenant_id,
        "attempts_detail": [attempt_detail(a) for a in attempts],
        "effects": effects,
        "payload": event.payload if unredacted else redact(event.payload),
        "payload_redacted_at": event.payload_redacted_at.isoformat() if event.payload_redacted_at else None,
    }
    click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())


events.add_command(purge)
