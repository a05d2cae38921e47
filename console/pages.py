"""The console's read-only pages: overview, events, one event, dead letters, a replay's progress, audit.

Each page reads through the ledger functions the CLI uses; the database work runs in a thread.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from console.app import Console, console_of, require_user
from console.forms import BadInput, event_filter, filter_query
from eduhook.cli.effects import event_effects
from eduhook.cli.selection import attempt_detail
from eduhook.ledger import EventLedger, schema
from eduhook.ledger.browse import BadCursor, audit_entry, oldest_pending, page
from eduhook.ledger.filters import EventFilter
from eduhook.ledger.overview import overview as ledger_overview
from eduhook.ledger.replays import ReplayLedger
from eduhook.redact import redact

PAGE_SIZES = (25, 50, 100, 200)


def _overview(console: Console) -> dict[str, Any]:
    import redis

    from handlers.protection import Protection
    from workers.messages import DEFAULT_QUEUE

    now = console.clock()
    context: dict[str, Any] = {
        "ledger": ledger_overview(console.engine, now),
        "dead_groups": ReplayLedger(console.engine).dead_counts(),
        "oldest_pending": oldest_pending(console.engine),
        "last_dead": EventLedger(console.engine).search(where=EventFilter(status=schema.DEAD), limit=10),
        "statuses": schema.EVENT_STATUSES,
    }
    try:
        context["partners"] = Protection.from_settings(console.settings, console.broker).status()
        context["queue_depth"] = int(console.broker.llen(DEFAULT_QUEUE))
        context["redis_error"] = None
    except redis.RedisError as exc:
        context.update(partners=[], queue_depth=None, redis_error=type(exc).__name__)
    return context


async def overview(request: Request) -> Response:
    require_user(request)
    console = console_of(request)
    context = await run_in_threadpool(_overview, console)
    return console.render(request, "overview.html", **context)


def _listing(request: Request, *, status: str | None) -> dict[str, Any]:
    query = request.query_params
    where = event_filter(query, status=status)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadInput("order: asc or desc")
    size = query.get("limit", "50")
    if not size.isdigit() or int(size) not in PAGE_SIZES:
        raise BadInput(f"limit: one of {', '.join(map(str, PAGE_SIZES))}")
    cursor = query.get("cursor") or None
    if cursor is not None and len(cursor) > 200:
        raise BadInput("cursor: not a cursor from this console")
    return {"where": where, "order": order, "limit": int(size), "cursor": cursor}


def _page(engine: Engine, listing: dict[str, Any]) -> dict[str, Any]:
    try:
        found = page(engine, listing["where"], cursor=listing["cursor"], order=listing["order"],
                     limit=listing["limit"])  # fmt: skip
    except BadCursor as exc:
        raise BadInput(f"cursor: {exc}") from exc
    fields = filter_query(listing["where"])
    return {
        "events": found.events,
        "next_cursor": found.next_cursor,
        "fields": fields,
        "base_query": fields | {"order": listing["order"], "limit": str(listing["limit"])},
        "order": listing["order"],
        "limit": listing["limit"],
        "sizes": PAGE_SIZES,
        "statuses": schema.EVENT_STATUSES,
    }


async def events(request: Request) -> Response:
    require_user(request)
    console = console_of(request)
    listing = _listing(request, status=None)
    context = await run_in_threadpool(_page, console.engine, listing)
    return console.render(request, "events.html", **context)


async def dead_letters(request: Request) -> Response:
    require_user(request)
    console = console_of(request)
    listing = _listing(request, status=schema.DEAD)
    context = await run_in_threadpool(_page, console.engine, listing)
    return console.render(request, "dead_letters.html", **context)


def detail_context(engine: Engine, event_id: str, *, unredacted: bool = False) -> dict[str, Any]:
    """One event as `eduhook dlq show` gives it: attempts, effects with generations, payload."""
    if len(event_id) > 64:
        raise BadInput(f"no event with id {event_id[:64]}…", 404)
    ledger = EventLedger(engine)
    event = ledger.get(event_id)
    if event is None:
        raise BadInput(f"no event with id {event_id}", 404)
    return {
        "event": event,
        "attempts": [attempt_detail(a) for a in ledger.attempts(event_id)],
        "effects": event_effects(engine, event_id),
        "payload": event.payload if unredacted else redact(event.payload),
        "unredacted": unredacted,
    }


async def event_detail(request: Request) -> Response:
    require_user(request)
    console = console_of(request)
    context = await run_in_threadpool(detail_context, console.engine, request.path_params["event_id"])
    return console.render(request, "event.html", **context)


def _progress(engine: Engine, audit_id: int) -> dict[str, Any]:
    entry = audit_entry(engine, audit_id)
    if entry is None or entry.action != "replay":
        raise BadInput(f"no replay {audit_id}", 404)
    statuses = ReplayLedger(engine).statuses(entry.event_ids)
    counts = Counter(statuses.values())
    handled = entry.queued + entry.skipped
    # Once the run has marked every event, a dead one has died again: the replay is over.
    done = handled >= len(entry.event_ids) and all(s in schema.FINAL_STATUSES for s in statuses.values())
    return {"entry": entry, "counts": dict(counts), "total": len(entry.event_ids), "done": done,
            "statuses": statuses}  # fmt: skip


async def replay_progress(request: Request) -> Response:
    require_user(request)
    console = console_of(request)
    context = await run_in_threadpool(_progress, console.engine, request.path_params["audit_id"])
    return console.render(request, "progress.html", **context)


async def audit(request: Request) -> Response:
    require_user(request)
    console = console_of(request)
    entries = await run_in_threadpool(ReplayLedger(console.engine).audit, 200)
    return console.render(request, "audit.html", entries=entries)


def age(moment: dt.datetime | None, now: dt.datetime) -> str:
    if moment is None:
        return "-"
    seconds = max(0, int((now - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
