"""What the operator commands share: the ledger, event filters as options, JSON-ready summaries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click
import orjson

from eduhook.ledger.filters import EventFilter

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from eduhook.cli.main import Context
    from eduhook.ledger import EventRecord
    from eduhook.ledger.events import AttemptRecord

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")
ERROR_CLASSES = ("transient", "permanent", "configuration", "unexpected", "lost")


def engine_of(obj: Context) -> Engine:
    from eduhook.ledger import create_engine_for

    return create_engine_for(obj.settings.effective_database_url)


def ledger_error(exc: Exception) -> click.ClickException:
    return click.ClickException(f"cannot read the ledger: {type(exc).__name__} (run `eduhook db upgrade`?)")


def find_events(obj: Context, where: EventFilter, limit: int) -> list[EventRecord]:
    """The newest events a filter selects, or a clear error when the ledger cannot be read."""
    from eduhook.ledger import EventLedger

    ledger = EventLedger(engine_of(obj))
    try:
        return ledger.search(where=where, limit=limit)
    except Exception as exc:
        raise ledger_error(exc) from exc
    finally:
        ledger.engine.dispose()


def echo_listing(
    items: Sequence[T],
    *,
    as_json: bool,
    document: Callable[[T], dict[str, Any]],
    empty: str,
    header: str,
    row: Callable[[T], str],
) -> None:
    """A listing as every command prints it: one JSON object per line, or a table."""
    if as_json:
        for item in items:
            click.echo(orjson.dumps(document(item)).decode())
        return
    if not items:
        click.echo(empty)
        return
    click.echo(header)
    for item in items:
        click.echo(row(item))


class UTCTime(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """An ISO 8601 date or time; one without a zone is taken as UTC."""

    name = "ISO-TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO 8601 time, e.g. 2026-12-01 or 2026-12-01T09:30:00Z", param, ctx
            )
        return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def filter_options(command: F) -> F:
    """``--type --educator --partner --error-class --since --until``, read by :func:`event_filter`."""
    options = [
        click.option("--type", "event_type", help="Only this event type, e.g. order.approved."),
        click.option("--educator", help="Only this educator slug."),
        click.option("--partner", help="Only failures at this partner: pennfoster, appsembler, eduframe."),
        click.option(
            "--error-class", type=click.Choice(ERROR_CLASSES), help="Only this class of last error."
        ),
        click.option("--since", type=UTCTime(), help="Received at or after this time (UTC unless given)."),
        click.option("--until", type=UTCTime(), help="Received before this time."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def event_filter(status: str | None, options: dict[str, Any]) -> EventFilter:
    return EventFilter(
        status=status,
        event_type=options.get("event_type"),
        educator=options.get("educator"),
        partner=options.get("partner"),
        error_class=options.get("error_class"),
        since=options.get("since"),
        until=options.get("until"),
    )


def summary(event: EventRecord) -> dict[str, Any]:
    """One event as ``--json`` listings give it; nothing personal."""
    return {
        "id": event.id,
        "type": event.event_type,
        "educator": event.educator,
        "status": event.status,
        "attempts": event.attempts,
        "received_at": event.received_at.isoformat(),
        "updated_at": event.updated_at.isoformat(),
        "next_attempt_at": event.next_attempt_at.isoformat() if event.next_attempt_at else None,
        "reason": event.status_reason,
        "last_error": event.last_error,
        "error_class": event.last_error_class,
        "partner": event.last_partner,
        "http_status": event.last_http_status,
        "partner_code": event.last_partner_code,
    }


def attempt_detail(attempt: AttemptRecord) -> dict[str, Any]:
    duration = (attempt.finished_at - attempt.started_at).total_seconds() if attempt.finished_at else None
    return {
        "number": attempt.number,
        "worker": attempt.worker,
        "started_at": attempt.started_at.isoformat(),
        "finished_at": attempt.finished_at.isoformat() if attempt.finished_at else None,
        "seconds": round(duration, 3) if duration is not None else None,
        "outcome": attempt.outcome,
        "error_class": attempt.error_class,
        "error": attempt.error_message,
        "partner": attempt.partner,
        "http_status": attempt.http_status,
        "partner_code": attempt.partner_code,
    }
