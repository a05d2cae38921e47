"""``eduhook events purge``: delete old final events with their attempts; effects always stay."""

from __future__ import annotations

import datetime as dt
import getpass
import re
import sys
from typing import TYPE_CHECKING, Any

import click
import orjson

from eduhook.cli.selection import engine_of, ledger_error
from eduhook.ledger.schema import DEAD, IGNORED, SUCCEEDED

if TYPE_CHECKING:
    from eduhook.cli.main import Context

_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}
_DURATION = re.compile(r"(\d{1,6})([wdhm])")


class Duration(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """An age such as ``180d``, ``12h``, ``2w`` or ``90m``: a whole number and one unit."""

    name = "AGE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> dt.timedelta:
        if isinstance(value, dt.timedelta):
            return value
        match = _DURATION.fullmatch(str(value).strip().lower())
        if match is None or int(match[1]) == 0:
            self.fail(
                f"{value!r} is not an age: give a whole number and a unit, w (weeks), d (days),"
                " h (hours) or m (minutes), e.g. 180d or 12h",
                param,
                ctx,
            )
        return dt.timedelta(**{_UNITS[match[2]]: int(match[1])})


class Statuses(click.ParamType):  # type: ignore[type-arg,unused-ignore]
    """A comma-separated list of final statuses a purge may delete without --include-dead."""

    name = "STATUS[,STATUS]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> list[str]:
        if isinstance(value, list):
            return value
        given = [s.strip() for s in str(value).split(",") if s.strip()]
        wrong = [s for s in given if s not in (SUCCEEDED, IGNORED)]
        if not given or wrong:
            hint = " (dead events need --include-dead)" if DEAD in wrong else ""
            named = ",".join(wrong) or repr(value)
            self.fail(f"statuses are {SUCCEEDED} and/or {IGNORED}, not {named}{hint}", param, ctx)
        return list(dict.fromkeys(given))


@click.command("purge")
@click.option(
    "--older-than", "age", type=Duration(), required=True, help="Events received longer ago, e.g. 180d, 12h."
)
@click.option(
    "--status",
    "statuses",
    type=Statuses(),
    default=f"{SUCCEEDED},{IGNORED}",
    show_default=True,
    help="Which final events to delete.",
)
@click.option("--include-dead", is_flag=True, help="Also delete dead events (no replay is possible then).")
@click.option("--reason", help="Why (kept in the audit).")
@click.option("--actor", help="Who, for the audit (default: the OS user).")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting.")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object with the counts.")
@click.pass_obj
def purge(
    obj: Context,
    age: dt.timedelta,
    statuses: list[str],
    include_dead: bool,
    reason: str | None,
    actor: str | None,
    yes: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Delete events received before now minus --older-than, with their attempts.

    \b
      eduhook events purge --older-than 180d --dry-run
      eduhook events purge --older-than 180d --status succeeded,ignored --yes
      eduhook events purge --older-than 365d --include-dead --reason "GDPR: 1 year" --yes

    Partner effects are never deleted: they are what makes a late redelivery of a purged event
    safe. Events not yet final (received, queued, processing, failed) are never deleted. Every
    purge is written to the audit (`eduhook audit list`).
    """
    from eduhook.ledger.replays import ReplayLedger
    from eduhook.ledger.retention import RetentionLedger

    chosen = [*statuses, DEAD] if include_dead else statuses
    now = dt.datetime.now(dt.UTC)
    cutoff = now - age
    engine = engine_of(obj)
    ledger = RetentionLedger(engine)
    try:
        try:
            counts = ledger.purgeable(cutoff, chosen)
        except Exception as exc:
            raise ledger_error(exc) from exc
        total = sum(counts.values())
        selection = {"older_than": cutoff.isoformat(), "statuses": chosen}
        if dry_run or not total:
            _report(as_json, dry_run=dry_run, counts=counts, selection=selection, deleted=0, audit_id=None)
            return
        if not yes:
            question = f"Delete {total} events received before {cutoff:%Y-%m-%d %H:%M} UTC?"
            click.confirm(question, abort=True, err=True)
        audit_id = ReplayLedger(engine).open_audit(
            actor=actor or getpass.getuser(), reason=reason, selection=selection, event_ids=[], now=now,
            action="purge",
        )  # fmt: skip
        deleted = 0
        with click.progressbar(length=total, label="purging", file=sys.stderr) as bar:
            for n in ledger.purge(audit_id, cutoff, chosen):
                deleted += n
                bar.update(n)
        _report(
            as_json, dry_run=False, counts=counts, selection=selection, deleted=deleted, audit_id=audit_id
        )
    finally:
        engine.dispose()


def _report(
    as_json: bool,
    *,
    dry_run: bool,
    counts: dict[str, int],
    selection: dict[str, Any],
    deleted: int,
    audit_id: int | None,
) -> None:
    if as_json:
        document = {"dry_run": dry_run, "matching": counts, "deleted": deleted, "audit_id": audit_id,
                    **selection}  # fmt: skip
        click.echo(orjson.dumps(document).decode())
        return
    by_status = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no events"
    cutoff = selection["older_than"]
    if dry_run:
        click.echo(f"dry run: would delete {by_status} received before {cutoff}; nothing was changed")
    elif not counts:
        click.echo(f"no {'/'.join(selection['statuses'])} events received before {cutoff}; nothing deleted")
    else:
        click.echo(f"purge {audit_id}: deleted {deleted} events ({by_status}) and their attempts")
