"""``eduhook sync studyabroad101``: the lead poll run by hand, from a date, with a progress bar."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

import click
import orjson

from eduhook.cli.selection import engine_of

if TYPE_CHECKING:
    from eduhook.cli.main import Context


@click.group()
def sync() -> None:
    """Read what partners hold and record what the ledger lacks."""


@sync.command("studyabroad101")
@click.option(
    "--since", type=click.DateTime(formats=["%Y-%m-%d"]), help="Leads from this day (default: the cursor's)."
)
@click.option("--dry-run", is_flag=True, help="Read and report; record and queue nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: found, new, already_known, pages.")
@click.pass_obj
def sync_studyabroad101(obj: Context, since: dt.datetime | None, dry_run: bool, as_json: bool) -> None:
    """StudyAbroad101 leads as events: the same code path as the scheduled poll."""
    import redis

    from eduhook.ledger import EventLedger
    from eduhook.runtime import resolve_redis
    from handlers.errors import EduhookError
    from sources.studyabroad101 import build_lead_poller
    from workers.messages import push_process_events

    ledger = EventLedger(engine_of(obj))
    handle = None if dry_run else resolve_redis(obj.settings)
    broker = None if handle is None else redis.Redis.from_url(handle.url)

    def publish(event_ids: Sequence[str]) -> None:
        assert broker is not None  # a dry run records nothing, so publishes nothing
        push_process_events(broker, event_ids)

    try:
        poller = build_lead_poller(obj.settings, ledger, publish, clock=lambda: dt.datetime.now(dt.UTC))
        with click.progressbar(length=0, label="pages", file=sys.stderr, show_pos=True) as bar:
            report = poller.poll(since=since.date() if since else None, dry_run=dry_run, on_page=bar.update)
    except EduhookError as error:
        raise click.ClickException(f"StudyAbroad101: {error}") from error
    finally:
        if broker is not None:
            broker.close()
        if handle is not None:
            handle.stop()
        ledger.engine.dispose()
    if as_json:
        click.echo(orjson.dumps(report.as_dict() | {"dry_run": dry_run}).decode())
        return
    verb = "would record" if dry_run else "recorded"
    click.echo(f"StudyAbroad101: found {report.found}, {verb} {report.new} new, {report.known} already known")
