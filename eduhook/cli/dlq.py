"""``eduhook dlq list|show|stats``: the dead-letter queue, the ``dead`` events in the ledger."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click
import orjson

from eduhook.cli.effects import echo_effects, event_effects
from eduhook.cli.selection import (
    attempt_detail,
    echo_listing,
    engine_of,
    event_filter,
    filter_options,
    find_events,
    ledger_error,
    summary,
)
from eduhook.ledger.schema import DEAD
from eduhook.redact import redact

if TYPE_CHECKING:
    from eduhook.cli.main import Context


@click.group()
def dlq() -> None:
    """Dead letters: events that will not be retried until replayed (`eduhook replay`)."""


@dlq.command("list")
@filter_options
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def list_dead(obj: Context, /, limit: int, as_json: bool, **options: Any) -> None:
    """List dead events, newest first, with the partner and error of their last attempt."""
    echo_listing(
        find_events(obj, event_filter(DEAD, options), limit),
        as_json=as_json,
        document=summary,
        empty="no dead events",
        header=f"{'ID':36}  {'TYPE':20}  {'EDUCATOR':12}  {'PARTNER':10}  {'CLASS':13}  {'CODE':10}  TRIES"
        "  REASON",
        row=lambda e: (
            f"{e.id:36}  {e.event_type[:20]:20}  {e.educator[:12]:12}  {(e.last_partner or '-'):10}  "
            f"{(e.last_error_class or '-'):13}  {(e.last_partner_code or e.last_http_status or '-')!s:10}  "
            f"{e.attempts:>5}  {e.status_reason or ''}"
        ),
    )


@dlq.command("show")
@click.argument("event_id")
@click.option("--json", "as_json", is_flag=True, help="The whole record as one JSON document.")
@click.pass_obj
def show_dead(obj: Context, event_id: str, as_json: bool) -> None:
    """One event's attempts timeline, its partner effects (done, failed, pending, cancelled, with
    every generation) and its payload.

    Personal fields in the payload are redacted, as in `events show`.
    """
    from eduhook.ledger import EventLedger

    engine = engine_of(obj)
    try:
        ledger = EventLedger(engine)
        event = ledger.get(event_id)
        attempts = ledger.attempts(event_id) if event else []
        effects = event_effects(engine, event_id) if event else []
    except Exception as exc:
        raise ledger_error(exc) from exc
    finally:
        engine.dispose()
    if event is None:
        raise click.ClickException(f"no event with id {event_id}")
    document = summary(event) | {
        "attempts_detail": [attempt_detail(a) for a in attempts],
        "effects": effects,
        "payload": redact(event.payload),
    }
    if as_json:
        click.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    click.echo(f"event {event.id}  {event.event_type}  educator {event.educator}  status {event.status}")
    if event.status_reason:
        click.echo(f"reason: {event.status_reason}")
    if event.next_attempt_at:
        click.echo(f"next attempt at {event.next_attempt_at.isoformat()}")
    click.echo("attempts:")
    for a in document["attempts_detail"]:
        where = " ".join(
            f"{k}={a[k]}" for k in ("partner", "http_status", "partner_code") if a[k] is not None
        )
        seconds = a["seconds"] if a["seconds"] is not None else "?"
        click.echo(
            f"  #{a['number']:<3} {a['started_at']}  {seconds:>7}s  "
            f"{a['outcome'] or 'running':10} {a['error_class'] or '':13} {where}  {a['error'] or ''}".rstrip()
        )
    echo_effects(effects)
    click.echo("payload (redacted):")
    click.echo(orjson.dumps(document["payload"], option=orjson.OPT_INDENT_2).decode())


@dlq.command("stats")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def stats(obj: Context, as_json: bool) -> None:
    """Dead events counted by partner, error class and partner code: what is broken, at a glance."""
    from eduhook.ledger.replays import ReplayLedger

    engine = engine_of(obj)
    try:
        counts = ReplayLedger(engine).dead_counts()
    except Exception as exc:
        raise ledger_error(exc) from exc
    finally:
        engine.dispose()
    total = sum(c.count for c in counts)
    if as_json:
        groups = [
            {
                "partner": c.partner,
                "error_class": c.error_class,
                "partner_code": c.partner_code,
                "count": c.count,
            }
            for c in counts
        ]
        click.echo(orjson.dumps({"dead": total, "groups": groups}).decode())
        return
    click.echo(f"{total} dead events")
    if counts:
        click.echo(f"  {'PARTNER':12}  {'CLASS':14}  {'CODE':12}  COUNT")
    for c in counts:
        click.echo(
            f"  {c.partner or '-':12}  {c.error_class or '-':14}  {c.partner_code or '-':12}  {c.count:>5}"
        )
