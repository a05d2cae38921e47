"""``eduhook replay`` and ``eduhook audit list``: put events back in line, and who did so and why.

A replay gives each event a fresh retry budget and queues it for the normal workers. Partner
effects already done are never sent again, so replaying twice, concurrently or while a retry is
due duplicates nothing.
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click
import orjson

from eduhook.cli.selection import echo_listing, engine_of, event_filter, filter_options, ledger_error
from eduhook.ledger.replays import AuditEntry, ReplayLedger
from eduhook.ledger.schema import DEAD, FAILED
from eduhook.replaying import (
    NothingToReplay,
    ReplayInterrupted,
    Selection,
    open_replay,
    plan,
    run_replay,
    select,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from eduhook.cli.main import Context


@click.command()
@click.argument("event_ids", nargs=-1)
@click.option("--dead", "bulk", flag_value=DEAD, help="Replay every dead event the filters match.")
@click.option("--failed", "bulk", flag_value=FAILED, help="Run events waiting for their next retry now.")
@filter_options
@click.option("--reason", help="Why (kept in the audit); required with --dead/--failed.")
@click.option("--actor", help="Who, for the audit (default: the OS user).")
@click.option("--force", is_flag=True, help="Also replay succeeded or ignored events.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before a bulk replay.")
@click.option(
    "--dry-run", is_flag=True, help="Show what would be replayed and the partner calls; change nothing."
)
@click.option(
    "--rate",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Events queued per second.",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the counts and ids.")
@click.pass_obj
def replay(
    obj: Context,
    /,
    event_ids: tuple[str, ...],
    bulk: str | None,
    reason: str | None,
    actor: str | None,
    force: bool,
    yes: bool,
    dry_run: bool,
    rate: int,
    as_json: bool,
    **options: Any,
) -> None:
    """Queue events again with a fresh retry budget: by id, or all dead (or failed) ones matching filters.

    \b
      eduhook replay 3f2a… 9b1c… --reason "route fixed"
      eduhook replay --dead --partner pennfoster --since 2026-12-01 --reason "Penn Foster outage" --yes
      eduhook replay --dead --error-class transient --dry-run

    Effects already done are skipped, so only what is missing reaches the partners.
    Exit code 1 when nothing matches or an id is unknown; nothing is queued then.
    """
    if bool(event_ids) == bool(bulk):
        raise click.UsageError("give event ids, or --dead or --failed with optional filters (not both)")
    if not bulk and any(v is not None for v in options.values()):
        raise click.UsageError("filters go with --dead or --failed, not with event ids")
    if bulk and not reason and not dry_run:
        raise click.UsageError("--reason is required for a bulk replay")
    engine = engine_of(obj)
    try:
        selection = _select(engine, event_ids, bulk, options, force)
        if dry_run:
            _dry_run(engine, selection, as_json)
            return
        if bulk and not yes:
            click.confirm(f"Replay {len(selection.eligible)} {bulk} events?", abort=True, err=True)
        _replay(obj, engine, selection, actor or getpass.getuser(), reason, rate, as_json)
    finally:
        engine.dispose()


def _select(
    engine: Engine, event_ids: Sequence[str], bulk: str | None, options: dict[str, Any], force: bool
) -> Selection:
    try:
        if bulk:
            return select(engine, where=event_filter(bulk, options), force=force)
        return select(engine, event_ids=event_ids, force=force)
    except NothingToReplay as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:
        raise ledger_error(exc) from exc


def _dry_run(engine: Engine, selection: Selection, as_json: bool) -> None:
    """What a replay would do, read from the ledger alone: no write, no partner call."""
    document = plan(engine, selection)
    if as_json:
        click.echo(orjson.dumps(document).decode())
        return
    for item in document["events"]:
        click.echo(f"{item['id']}  ({item['status']}): would replay")
        for call in item["calls"]:
            click.echo(f"    {call['would']:12} {call['key']}")
        if not item["calls"]:
            click.echo(
                "    no partner effects recorded yet: the handler plans them after re-reading Eduframe"
            )
    for event_id, why in document["skipped_ids"].items():
        click.echo(f"{event_id}: skipped, {why}")
    click.echo(
        f"dry run: would queue {document['would_queue']}, skip {document['skipped']}; nothing was changed"
    )


def _replay(
    obj: Context,
    engine: Engine,
    selection: Selection,
    actor: str,
    reason: str | None,
    rate: int,
    as_json: bool,
) -> None:
    import redis

    from eduhook.runtime import resolve_redis
    from workers.messages import push_process_events

    handle = resolve_redis(obj.settings)
    broker = redis.Redis.from_url(handle.url)
    audit_id = open_replay(engine, selection, actor=actor, reason=reason)
    try:
        with click.progressbar(length=len(selection.ids), label="replaying", file=sys.stderr) as bar:
            result = run_replay(
                engine, audit_id, selection, lambda ids: push_process_events(broker, ids),
                rate=rate, progress=bar.update,
            )  # fmt: skip
    except ReplayInterrupted as exc:
        raise click.ClickException(
            f"Redis is unreachable ({type(exc.__cause__).__name__}) after {exc.queued} events were queued;"
            " the rest of the last batch is marked queued and the scheduler queues it again"
            f" (audit {audit_id})"
        ) from exc
    finally:
        broker.close()
        handle.stop()
    if as_json:
        document = {
            "audit_id": audit_id,
            "queued": len(result.queued),
            "skipped": len(result.skipped),
            "queued_ids": result.queued,
            "skipped_ids": result.skipped,
        }
        click.echo(orjson.dumps(document).decode())
    else:
        click.echo(f"replay {audit_id}: queued {len(result.queued)}, skipped {len(result.skipped)}")
        for event_id, why in list(result.skipped.items())[:20]:
            click.echo(f"  skipped {event_id}: {why}")


@click.group()
def audit() -> None:
    """The audit of replays and purges: who, when, why, and which events."""


@audit.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_obj
def audit_list(obj: Context, limit: int, as_json: bool) -> None:
    """The newest entries first."""
    engine = engine_of(obj)
    try:
        entries = ReplayLedger(engine).audit(limit)
    except Exception as exc:
        raise ledger_error(exc) from exc
    finally:
        engine.dispose()
    echo_listing(
        entries,
        as_json=as_json,
        document=audit_document,
        empty="the audit is empty",
        header=(
            f"{'ID':>5}  {'ACTION':9}  {'WHEN':19}  {'WHO':12}  {'EVENTS':>6}  {'SKIPPED':>7}  "
            "SELECTION / REASON"
        ),
        row=lambda e: (
            f"{e.id:>5}  {e.action:9}  {e.created_at:%Y-%m-%d %H:%M:%S}  {e.actor[:12]:12}  "
            f"{e.queued:>6}  {e.skipped:>7}  {orjson.dumps(e.selection).decode()[:60]}  {e.reason or ''}"
        ),
    )


def audit_document(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "action": entry.action,
        "actor": entry.actor,
        "reason": entry.reason,
        "created_at": entry.created_at.isoformat(),
        "selection": entry.selection,
        "event_ids": entry.event_ids,
        "queued": entry.queued,
        "skipped": entry.skipped,
    }
