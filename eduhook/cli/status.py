"""``eduhook status``: each partner's budget and breaker, the queue, retries and dead letters."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import click
import orjson

if TYPE_CHECKING:
    from eduhook.cli.main import Context
    from eduhook.ledger.overview import Overview
    from handlers.protection import PartnerStatus


@click.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Partner budgets and breakers (shared by every worker), queue depth, retries, dead letters."""
    import redis

    from eduhook.cli.selection import engine_of, ledger_error
    from eduhook.ledger.overview import overview
    from eduhook.runtime import resolve_redis
    from handlers.protection import Protection
    from workers.messages import DEFAULT_QUEUE

    settings = obj.settings
    handle = resolve_redis(settings)
    client = redis.Redis.from_url(handle.url)
    engine = engine_of(obj)
    try:
        partners = Protection.from_settings(settings, client).status()
        depth = int(client.llen(DEFAULT_QUEUE))
    except redis.RedisError as exc:
        raise click.ClickException(f"Redis is unreachable ({type(exc).__name__})") from exc
    finally:
        client.close()
        handle.stop()
    try:
        ledger = overview(engine, dt.datetime.now(dt.UTC))
    except Exception as exc:
        raise ledger_error(exc) from exc
    finally:
        engine.dispose()
    if as_json:
        click.echo(orjson.dumps(document(partners, depth, ledger)).decode())
    else:
        click.echo("\n".join(text(partners, depth, ledger)))


def document(partners: list[PartnerStatus], depth: int, ledger: Overview) -> dict[str, Any]:
    return {
        "partners": [partner_document(p) for p in partners],
        "queue_depth": depth,
        "retrying": ledger.retrying,
        "due": ledger.due,
        "deferred": ledger.deferred,
        "dead": ledger.dead,
        "events": ledger.by_status,
    }


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


def text(partners: list[PartnerStatus], depth: int, ledger: Overview) -> list[str]:
    lines = [f"{'PARTNER':12}  {'BUDGET LEFT':24}  BREAKER"]
    for p in partners:
        lines.append(f"{p.partner:12}  {_budget(p):24}  {_breaker(p)}")
    lines += [
        "",
        f"queue: {depth} events waiting for a worker",
        f"retries: {ledger.retrying} events waiting for their next attempt, {ledger.due} due now;"
        f" {ledger.deferred} of them held back for a partner (no attempt used)",
        f"dead letters: {ledger.dead} (eduhook dlq list)",
    ]
    return lines


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
