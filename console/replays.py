"""Replays started from the console: checked and audited in the request, run in one background thread.

The request selects the events, writes the audit entry and answers with the progress page; the
thread queues them at the CLI's pace through :func:`eduhook.replaying.run_replay`. A console
stopped mid-run finishes the chunk in hand and leaves the rest dead, to be replayed again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import redis
from sqlalchemy.engine import Engine

from console.forms import BadInput
from eduhook.ledger.filters import EventFilter
from eduhook.ledger.replays import ReplayLedger
from eduhook.ledger.schema import DEAD
from eduhook.replaying import (
    NothingToReplay,
    ReplayInterrupted,
    Selection,
    open_replay,
    plan,
    run_replay,
    select,
)
from workers.messages import push_process_events

log = logging.getLogger("eduhook.console")
RATE = 20  # events queued per second, as `eduhook replay` does by default


def choose(engine: Engine, event_ids: Sequence[str], where: EventFilter | None) -> Selection:
    """Dead events only, by id or by filter; anything else is refused with a 4xx."""
    if where is None:
        statuses = ReplayLedger(engine).statuses(event_ids)
        unknown = [i for i in event_ids if i not in statuses]
        if unknown:
            raise BadInput(f"unknown event ids: {', '.join(unknown[:10])}; nothing was queued", 404)
        alive = [i for i in event_ids if statuses[i] != DEAD]
        if alive:
            shown = ", ".join(f"{i} ({statuses[i]})" for i in alive[:5])
            raise BadInput(f"only dead events are replayed here; not dead: {shown}", 409)
    try:
        return select(engine, where=where) if where is not None else select(engine, event_ids=event_ids)
    except NothingToReplay as exc:
        raise BadInput(str(exc), 409) from exc


class Replayer:
    """Runs one replay at a time after its audit entry is written."""

    def __init__(self, engine: Engine, broker: redis.Redis, rate: int = RATE) -> None:
        self.engine = engine
        self.broker = broker
        self.rate = rate
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="console-replay")
        self.stopping = threading.Event()

    def preview(self, selection: Selection) -> dict[str, object]:
        return plan(self.engine, selection)

    def start(self, selection: Selection, *, actor: str, reason: str) -> int:
        audit_id = open_replay(self.engine, selection, actor=actor, reason=reason)
        self.pool.submit(self._run, audit_id, selection)
        return audit_id

    def _run(self, audit_id: int, selection: Selection) -> None:
        try:
            result = run_replay(
                self.engine, audit_id, selection, lambda ids: push_process_events(self.broker, ids),
                rate=self.rate, stopping=self.stopping.is_set,
            )  # fmt: skip
        except ReplayInterrupted as exc:
            log.warning("replay %s stopped: %s", audit_id, exc)
        except Exception:
            log.exception("replay %s failed", audit_id)
        else:
            log.info("replay %s: queued %d, skipped %d", audit_id, len(result.queued), len(result.skipped))

    def close(self) -> None:
        """Stop after the chunk in hand; what was not reached stays dead, to be replayed again."""
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
