"""``eduhook reconcile eduframe``: record the webhooks Eduframe gave up on (sources/eduframe.py).

The same code path as beat's hourly run, for an operator after an outage: it reads the watched
webhooks' failed (and retrying) notifications and records, then queues, what the ledger lacks.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
import orjson

from eduhook.cli.selection import engine_of, ledger_error

if TYPE_CHECKING:
    from eduhook.cli.main import Context
    from sources.eduframe import Reconciliation

SHOWN_INVALID = 20  # invalid notifications listed by id in the text report


def _instant(value: str) -> dt.datetime:
    """An ISO 8601 date or date-time; without a zone it is UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 date or date-time") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@click.group()
def reconcile() -> None:
    """Record events whose webhooks never reached eduhook."""


@reconcile.command("eduframe")
@click.option("--since", help="Only failures created from this ISO 8601 instant on (default: all).")
@click.option("--dry-run", is_flag=True, help="Count what would be recorded; record and queue nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the counts and ids.")
@click.pass_obj
def reconcile_eduframe(obj: Context, /, since: str | None, dry_run: bool, as_json: bool) -> None:
    """Read the failed and retrying notifications of eduframe.webhook_ids; record what is missing."""
    settings = obj.settings
    if not settings.eduframe_webhook_ids:
        raise click.ClickException(
            "no webhooks to watch: set eduframe.webhook_ids (EDUHOOK_EDUFRAME_WEBHOOK_IDS)"
        )
    start = _instant(since) if since else None
    report = _run(obj, start, dry_run=dry_run)
    if as_json:
        click.echo(orjson.dumps(report.to_json()).decode())
    else:
        _echo(report)


def _run(obj: Context, since: dt.datetime | None, *, dry_run: bool) -> Reconciliation:
    import redis
    from sqlalchemy.exc import SQLAlchemyError

    from eduhook.ledger import EventLedger
    from eduhook.runtime import resolve_redis
    from handlers.errors import EduhookError
    from sources.eduframe import reconciler_for
    from workers.messages import push_process_events

    settings = obj.settings
    engine = engine_of(obj)
    handle = None if dry_run else resolve_redis(settings)
    broker = None if handle is None else redis.Redis.from_url(handle.url)

    def publish(event_ids: Sequence[str]) -> None:
        assert broker is not None  # a dry run records nothing, so it queues nothing
        push_process_events(broker, event_ids)

    try:
        reconciler = reconciler_for(settings, EventLedger(engine), publish, _now)
        notices = reconciler.read(since)
        click.echo(
            f"read {len(notices)} notifications of {len(settings.eduframe_webhook_ids)} webhooks", err=True
        )
        with click.progressbar(length=len(notices), label="reconciling", file=sys.stderr) as bar:
            return reconciler.record(notices, dry_run=dry_run, progress=bar.update)
    except EduhookError as exc:
        raise click.ClickException(f"cannot read Eduframe's notification log: {exc}") from exc
    except SQLAlchemyError as exc:
        raise ledger_error(exc) from exc
    finally:
        if broker is not None:
            broker.close()
        if handle is not None:
            handle.stop()
        engine.dispose()


def _echo(report: Reconciliation) -> None:
    verb = "would recover" if report.dry_run else "recovered"
    click.echo(
        f"eduframe: found {report.found}, already had {report.already_had}, {verb} {report.recovered}"
        f" ({report.webhooks} webhooks)"
    )
    if report.invalid:
        click.echo(f"  {report.invalid} notifications carry no valid envelope; not recorded")
        for notification_id, why in list(report.invalid_notifications.items())[:SHOWN_INVALID]:
            click.echo(f"  notification {notification_id}: {why}")
    if report.not_accepted:
        click.echo(f"  {report.not_accepted} notifications are for educators this eduhook does not accept")
    if report.unqueued:
        click.echo(
            f"  {report.unqueued} recovered events not queued (Redis unreachable); the scheduler queues them"
        )
    if report.dry_run:
        click.echo("dry run: nothing was recorded")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
