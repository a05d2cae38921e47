"""``eduhook status``: the receiver, the ledger, Redis and the workers, each partner's budget and
breaker, the queue, retries and dead letters; exit 1 when something needs attention."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import click
import orjson

if TYPE_CHECKING:
    from eduhook.cli.health import Health
    from eduhook.cli.main import Context
    from handlers.protection import PartnerStatus

RULES = """Exit status 0 when healthy, 1 when something needs attention: the receiver
(EDUHOOK_RECEIVER_URL, default http://EDUHOOK_HOST:EDUHOOK_PORT) does not answer /readyz with 200,
the ledger or Redis is unreachable, no worker answers Celery's ping, a partner's breaker is open,
the oldest pending event (received, queued or processing) is older than
EDUHOOK_STATUS_MAX_PENDING_AGE (600 s), or there are dead letters. Retries due and spent budgets
are shown but are not problems: eduhook handles them itself."""


@click.command(epilog=RULES)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 30),
    default=1.0,
    show_default=True,
    help="Seconds to wait for the receiver, Redis, and the workers' answers to the ping.",
)
@click.pass_obj
def status(obj: Context, as_json: bool, timeout: float) -> None:
    """The whole picture in one screen: the receiver and ledger reachable, workers alive with their
    concurrency, queue depth and oldest pending event, retries due and dead letters by partner,
    partner budgets and breakers (shared by every worker)."""
    from eduhook.cli.health import gather

    health = gather(obj.settings, timeout=timeout)
    if as_json:
        click.echo(orjson.dumps(document(health)).decode())
    else:
        click.echo("\n".join(text(health)))
    raise SystemExit(1 if health.problems() else 0)


def document(health: Health) -> dict[str, Any]:
    ledger = health.overview
    problems = health.problems()
    return {
        "healthy": not problems,
        "problems": problems,
        "receiver": {"url": health.receiver_url, "state": health.receiver, "checks": health.receiver_checks},
        "ledger": health.ledger,
        "redis": health.redis,
        "workers": None
        if health.workers is None
        else [{"name": w.name, "concurrency": w.concurrency} for w in health.workers],
        "partners": [partner_document(p) for p in health.partners],
        "queue_depth": health.queue_depth,
        "oldest_pending_seconds": health.oldest_pending_seconds,
        "retrying": ledger.retrying if ledger else None,
        "due": ledger.due if ledger else None,
        "due_by_partner": _by_partner(ledger.due_by_partner) if ledger else None,
        "deferred": ledger.deferred if ledger else None,
        "dead": ledger.dead if ledger else None,
        "dead_by_partner": _by_partner(ledger.dead_by_partner) if ledger else None,
        "events": ledger.by_status if ledger else None,
    }


def _by_partner(counts: dict[str, int]) -> dict[str, int]:
    return {partner or "none": n for partner, n in sorted(counts.items())}


def partner_document(partner: PartnerStatus) -> dict[str, Any]:
    budget, breaker = partner.budget, partner.breaker
    return {
        "partner": partner.partner,
        "limit": partner.limit.model_dump() if partner.limit else None,
        "budget_left": budget.remaining if budget else None,
        "paused_until": _iso(budget.paused_until) if budget else None,
        "breaker": None
        if breaker is None
        else {
            "state": breaker.state,
            "until": _iso(breaker.until),
            "failures": breaker.failures,
            "cooldown": breaker.cooldown,
        },
    }


def text(health: Health) -> list[str]:
    ledger = health.overview
    checks = ", ".join(f"{k} {v}" for k, v in health.receiver_checks.items())
    lines = [
        f"receiver: {health.receiver} ({health.receiver_url}{'; ' + checks if checks else ''})",
        f"ledger: {health.ledger}",
        f"redis: {health.redis}",
        "workers: " + _workers(health),
    ]
    if health.partners:
        lines += ["", f"{'PARTNER':12}  {'BUDGET LEFT':24}  BREAKER"]
        lines += [f"{p.partner:12}  {_budget(p):24}  {_breaker(p)}" for p in health.partners]
    lines.append("")
    if health.queue_depth is not None:
        lines.append(f"queue: {health.queue_depth} events waiting for a worker")
    if ledger is not None:
        age = health.oldest_pending_seconds or 0.0
        lines += [
            f"oldest pending: {age:.0f} s" if ledger.oldest_pending else "oldest pending: none",
            f"retries: {ledger.retrying} events waiting for their next attempt, {ledger.due} due now"
            f"{_split(ledger.due_by_partner)}; {ledger.deferred} of them held back for a partner"
            " (no attempt used)",
            f"dead letters: {ledger.dead} (eduhook dlq list)" + _split(ledger.dead_by_partner),
        ]
    problems = health.problems()
    lines += ["", "healthy" if not problems else "needs attention:", *[f"  - {p}" for p in problems]]
    return lines


def _workers(health: Health) -> str:
    if health.workers is None:
        return "not asked (Redis unreachable)"
    if not health.workers:
        return "none answered"
    return ", ".join(f"{w.name} (concurrency {w.concurrency or '?'})" for w in health.workers)


def _split(counts: dict[str, int]) -> str:
    """`` [pennfoster: 2, none: 1]``: a count's partners, or nothing."""
    return " [" + ", ".join(f"{k}: {n}" for k, n in _by_partner(counts).items()) + "]" if counts else ""


def _budget(partner: PartnerStatus) -> str:
    if partner.budget is None:
        return "no limit"
    budget = partner.budget
    left = f"{budget.remaining}/{budget.limit.requests} per {budget.limit.per_seconds} s"
    return f"{left}, paused until {_hms(budget.paused_until)}" if budget.paused_until else left


def _breaker(partner: PartnerStatus) -> str:
    breaker = partner.breaker
    if breaker is None:
        return "off"
    if breaker.state == "open":
        return f"open until {_hms(breaker.until)} (cool-down {breaker.cooldown:g} s)"
    if breaker.state == "half-open":
        return "half-open (one call probes the partner)"
    return f"closed ({breaker.failures} failures in a row)" if breaker.failures else "closed"


def _iso(moment: float | None) -> str | None:
    return None if moment is None else dt.datetime.fromtimestamp(moment, dt.UTC).isoformat()


def _hms(moment: float | None) -> str:
    return "-" if moment is None else dt.datetime.fromtimestamp(moment, dt.UTC).strftime("%H:%M:%S UTC")
