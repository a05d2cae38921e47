"""How `events show` and `dlq show` present an event's partner effects: each with every generation.

A generation's result keeps the partner's ids (student id, order number, cancel request id) and
is redacted like payloads, so nothing personal is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from eduhook.redact import redact

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from eduhook.ledger.effects import EffectRecord


def generation_detail(effect: EffectRecord) -> dict[str, Any]:
    return {
        "generation": effect.generation,
        "state": effect.state,
        "event_id": effect.event_id,
        "source": effect.source.to_json() if effect.source else None,
        "result": redact(effect.result),
        "cancellation": redact(effect.cancellation),
        "updated_at": effect.updated_at.isoformat(),
    }


def effect_detail(effect: EffectRecord, generations: list[EffectRecord]) -> dict[str, Any]:
    """The effect as the event left it, and the whole history of its key."""
    return {
        "key": str(effect.key),
        "partner": effect.key.partner,
        "action": effect.key.action,
        "state": effect.state,
        "generation": effect.generation,
        "attempts": effect.attempts,
        "error": effect.error,
        "updated_at": effect.updated_at.isoformat(),
        "generations": [generation_detail(g) for g in generations or [effect]],
    }


def event_effects(engine: Engine, event_id: str) -> list[dict[str, Any]]:
    """Every effect the event claimed last, with all generations of each."""
    from eduhook.ledger.effects import EffectLedger

    store = EffectLedger(engine)
    claimed = store.of_event(event_id)
    history = store.generations(effect.key for effect in claimed)
    return [effect_detail(effect, history.get(effect.key, [])) for effect in claimed]


def echo_effects(documents: list[dict[str, Any]]) -> None:
    """One line per effect; under it one line per generation when the key has had more than one
    or was cancelled."""
    click.echo("effects:" if documents else "effects: none recorded for this event")
    for f in documents:
        failed = f["error"] and f["state"] not in ("done", "cancelled")
        click.echo(f"  {f['state']:8} {f['key']}" + (f"  ({f['error']})" if failed else ""))
        generations = f["generations"]
        if len(generations) < 2 and f["state"] != "cancelled":
            continue
        for g in generations:
            cancelled = g["cancellation"] or {}
            how = f"  cancelled by {cancelled['by']} (event {cancelled['event_id']})" if cancelled else ""
            ids = ", ".join(f"{k} {v}" for k, v in sorted((g["result"] or {}).items()) if k.endswith("_id"))
            click.echo(
                f"      generation {g['generation']}: {g['state']:9} event {g['event_id']}"
                + (f"  [{ids}]" if ids else "")
                + how
            )
