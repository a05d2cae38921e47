"""Exactly-once partner side effects, the handlers' side: claim, wait for other workers, settle.

The rows live in the ledger (``eduhook.ledger.effects``). Claims carry a lease, so a worker that
dies mid-call frees its keys after the lease. Such a key, like one whose request timed out, comes
back in doubt (``Claims.in_doubt``): the handler asks the partner whether it was done before it
sends again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Engine

from eduhook.ledger.effects import (
    CANCELLED,
    CLAIMED,
    DONE,
    FAILED,
    IN_DOUBT,
    Claims,
    EffectKey,
    EffectLedger,
    EffectRecord,
    Undoes,
)
from eduhook.ledger.provenance import Source
from handlers.errors import TransientError

__all__ = [
    "CANCELLED",
    "CLAIMED",
    "DONE",
    "FAILED",
    "IN_DOUBT",
    "Claims",
    "EffectKey",
    "EffectRecord",
    "EffectStore",
    "Source",
    "effect_id",
]


def effect_id(key: EffectKey, generation: int) -> str:
    """The id partners see for one generation of an effect (Penn Foster's transaction GUID comes
    from it): the key itself for the first, so ids sent before generations existed stay the same."""
    return str(key) if generation <= 1 else f"{key}#{generation}"


class EffectStore(EffectLedger):
    """The effects ledger plus the one rule handlers add: wait for keys another worker holds."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease: dt.timedelta = dt.timedelta(seconds=120),
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(engine, lease=lease, clock=clock)
        self.sleep = sleep

    def claim_waiting(
        self,
        keys: Sequence[EffectKey],
        *,
        event_id: str,
        source: Source | None = None,
        undoes: Undoes | None = None,
        wait: float = 30.0,
        poll: float = 0.1,
    ) -> Claims:
        """Like :meth:`claim`, but waits for keys another worker holds to be settled.

        Overlapping events (an order and its per-student enrollments) then never call a partner
        twice, whichever arrives first: the later one waits and finds the key done.
        """
        claims = self.claim(keys, event_id=event_id, source=source, undoes=undoes)
        deadline = time.monotonic() + wait
        while claims.busy:
            if time.monotonic() > deadline:
                raise TransientError(
                    f"{len(claims.busy)} partner effects are still being worked on by another worker"
                )
            self.sleep(poll)
            claims.merge(
                self.claim(claims.busy, event_id=event_id, source=source, undoes=undoes, owner=claims.owner)
            )
        return claims
