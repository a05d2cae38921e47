"""One replay, whoever asks for it: ``eduhook replay`` and the console select, preview and run it here.

Selecting reads the ledger; a dry run reads it too and changes nothing; a replay opens its audit
entry first, then queues the events in paced chunks and publishes each chunk's ids.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from eduhook.ledger.filters import EventFilter
from eduhook.ledger.replays import ReplayLedger, skip_reason

MAX_CHUNK = 100  # events per ledger transaction and per LPUSH


class NothingToReplay(Exception):
    """The selection names unknown events, or nothing that can be replayed; nothing was queued."""


class ReplayInterrupted(Exception):
    """Publishing failed part way; the events already marked are queued again by the scheduler."""

    def __init__(self, audit_id: int, queued: int, cause: BaseException) -> None:
        super().__init__(
            f"stopped after {queued} events were queued (audit {audit_id}): {type(cause).__name__}"
        )
        self.audit_id = audit_id
        self.queued = queued


@dataclass
class Selection:
    """The events a replay names, in order, with each one's current status."""

    ids: list[str]
    statuses: dict[str, str]
    described: dict[str, Any]
    force: bool
    eligible: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.eligible = [i for i in self.ids if skip_reason(self.statuses.get(i), force=self.force) is None]

    def skipped(self) -> dict[str, str]:
        reasons = {i: skip_reason(self.statuses.get(i), force=self.force) for i in self.ids}
        return {i: reason for i, reason in reasons.items() if reason is not None}


@dataclass
class ReplayResult:
    audit_id: int
    queued: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def select(
    engine: Engine, *, event_ids: Sequence[str] = (), where: EventFilter | None = None, force: bool = False
) -> Selection:
    """The events named by id, or matched by ``where``; :class:`NothingToReplay` when none can be."""
    replays = ReplayLedger(engine)
    if where is not None:
        ids = replays.matching_ids(where)
        described: dict[str, Any] = {"filter": where.describe()}
    else:
        ids = list(dict.fromkeys(event_ids))
        described = {"ids": ids}
    statuses = replays.statuses(ids)
    unknown = [i for i in ids if i not in statuses]
    if unknown:
        raise NothingToReplay(f"unknown event ids: {', '.join(unknown[:10])}; nothing was queued")
    if not ids:
        raise NothingToReplay(
            f"no {where.status if where else ''} events match the filters; nothing was queued"
        )
    selection = Selection(ids, statuses, described, force)
    if not selection.eligible:
        why = "; ".join(f"{i}: {r}" for i, r in list(selection.skipped().items())[:5])
        raise NothingToReplay(f"nothing to replay ({why}); nothing was queued")
    return selection


def plan(engine: Engine, selection: Selection) -> dict[str, Any]:
    """What a replay would do, read from the ledger alone: no write, no partner call."""
    from eduhook.ledger.effects import CANCELLED, DONE, EffectLedger

    store = EffectLedger(engine)
    would = {DONE: "skip (done)", CANCELLED: "skip (cancelled)"}
    events: list[dict[str, Any]] = []
    for event_id in selection.eligible:
        calls = [
            {"partner": f.key.partner, "action": f.key.action, "key": str(f.key),
             "would": would.get(f.state, "send")}
            for f in store.of_event(event_id)
        ]  # fmt: skip
        events.append({"id": event_id, "status": selection.statuses[event_id], "calls": calls})
    skipped = selection.skipped()
    return {"dry_run": True, "would_queue": len(events), "skipped": len(skipped), "events": events,
            "skipped_ids": skipped}  # fmt: skip


def open_replay(engine: Engine, selection: Selection, *, actor: str, reason: str | None) -> int:
    """The audit entry, written before anything changes; returns its id."""
    return ReplayLedger(engine).open_audit(
        actor=actor, reason=reason, selection=selection.described, event_ids=selection.ids, now=_now()
    )


def run_replay(
    engine: Engine,
    audit_id: int,
    selection: Selection,
    publish: Callable[[list[str]], None],
    *,
    rate: int,
    progress: Callable[[int], None] = lambda n: None,
    clock: Callable[[], dt.datetime] | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> ReplayResult:
    """Queue the selection at ``rate`` events a second, publishing each chunk once it is marked.

    A publish error stops the run as :class:`ReplayInterrupted`; the chunk already marked
    ``queued`` is published again by the scheduler. ``stopping()`` true ends the run between two
    chunks: the events not reached yet keep their status, and the audit counts only those done.
    """
    from limits import RateLimitItemPerSecond, storage, strategies

    now = clock or _now
    replays = ReplayLedger(engine)
    pace = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
    budget = RateLimitItemPerSecond(rate)
    chunk_size = min(MAX_CHUNK, rate)
    result = ReplayResult(audit_id)
    for start in range(0, len(selection.ids), chunk_size):
        if stopping():
            break
        chunk = selection.ids[start : start + chunk_size]
        while not pace.hit(budget, "replay", cost=len(chunk)):
            time.sleep(max(0.01, pace.get_window_stats(budget, "replay").reset_time - time.time()))
        batch = replays.replay(audit_id, chunk, now(), force=selection.force)
        try:
            publish(batch.queued)
        except Exception as exc:
            raise ReplayInterrupted(audit_id, len(result.queued), exc) from exc
        result.queued.extend(batch.queued)
        result.skipped.update(batch.skipped)
        progress(len(chunk))
    return result


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
