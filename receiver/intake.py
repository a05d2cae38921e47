"""Group commit for webhooks: concurrent requests share one ledger transaction and one LPUSH.

Each request hands its event to ``Intake.submit`` and waits. A single loop takes everything
waiting, inserts it in one transaction (on one database thread), pushes the new event ids to
the broker in one command, and only then answers the requests. So every 2xx still means
"recorded" (and, when the broker answered, "queued"), while the cost per event falls as load rises.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from eduhook.ledger import EventLedger, NewEvent, StoredEvent
from eduhook.ledger.schema import RECEIVED

log = logging.getLogger("eduhook.receiver")

# Queues the events given as (event id, event type): the type is only shown, by Flower.
Publish = Callable[[Sequence[tuple[str, str]]], Awaitable[None]]
# With marks pending and no traffic, write them after this long rather than wait for a batch.
MARK_IDLE_SECONDS = 0.05


class LedgerUnavailable(Exception):
    """The ledger could not be written; the request must not be acknowledged."""


class EventRefused(Exception):
    """The database refuses this event's values (its DataError): a redelivery would fail alike."""


@dataclass(frozen=True)
class Accepted:
    """What the ledger holds for a submitted event, and whether it reached the queue."""

    stored: StoredEvent
    queued: bool


@dataclass
class _Pending:
    event: NewEvent
    future: asyncio.Future[Accepted]


class Intake:
    """Batches submitted events into ledger transactions and broker pushes."""

    def __init__(
        self,
        ledger: EventLedger,
        publish: Publish,
        *,
        clock: Callable[[], dt.datetime],
        max_batch: int = 256,
    ) -> None:
        self._ledger = ledger
        self._publish = publish
        self._clock = clock
        self._max_batch = max_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        # One thread owns every ledger write: SQLite has one writer anyway, and order is kept.
        self._db = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._task: asyncio.Task[None] | None = None
        # Events on the broker whose ledger status still says `received`.
        self._to_mark: list[str] = []
        self._writing_since: float | None = None  # loop time the current ledger write began

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="intake")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(LedgerUnavailable("receiver shutting down"))
        await asyncio.get_running_loop().run_in_executor(self._db, self._flush_marks)
        self._db.shutdown(wait=True)

    async def submit(self, event: NewEvent) -> Accepted:
        if self._task is None or self._task.done():
            raise LedgerUnavailable("intake is not running")
        future: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(event, future))
        return await future

    async def run_in_db_thread(self, fn: Callable[[], object]) -> object:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn)

    async def _next(self) -> _Pending | None:
        """The next submission; ``None`` when idle for a moment with queued-marks still to write."""
        if not self._to_mark:
            return await self._queue.get()
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            pass
        try:
            return await asyncio.wait_for(self._queue.get(), MARK_IDLE_SECONDS)
        except TimeoutError:
            return None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._next()
            if first is None:
                await loop.run_in_executor(self._db, self._flush_marks)
                continue
            batch = [first]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            marks, self._to_mark = self._to_mark, []
            self._writing_since = loop.time()
            try:
                results = await self._write(batch, marks)
            finally:
                self._writing_since = None
            await self._answer(batch, results)

    async def _write(self, batch: list[_Pending], marks: list[str]) -> list[StoredEvent | Exception]:
        """The batch in one transaction; if that fails, each event alone, so that one row the
        database refuses (or one failing trigger) cannot fail the requests beside it."""
        events = [p.event for p in batch]
        try:
            return list(await self._insert(events, marks))
        except Exception as exc:  # any database failure: none of these may get a 2xx yet
            self._to_mark = marks + self._to_mark  # rolled back with the batch; try again later
            if len(batch) == 1 or self._ledger.unreachable(exc):
                log.error("ledger write failed for %d events: %s", len(batch), type(exc).__name__)
                return [exc] * len(batch)
            log.warning(
                "ledger write failed for a batch of %d (%s); writing each alone",
                len(batch),
                type(exc).__name__,
            )
        results: list[StoredEvent | Exception] = []
        for number, event in enumerate(events):
            try:
                results.extend(await self._insert([event], []))
            except Exception as exc:
                if self._ledger.unreachable(exc):  # the database went away: stop trying
                    log.error("ledger unreachable: %d events not recorded", len(events) - number)
                    return results + [exc] * (len(events) - number)
                log.error("ledger refused one %s event: %s", event.event_type, type(exc).__name__)
                results.append(exc)
        return results

    async def _insert(self, events: list[NewEvent], marks: list[str]) -> list[StoredEvent]:
        write = functools.partial(self._ledger.insert_batch, events, mark_queued=marks, now=self._clock())
        return await asyncio.get_running_loop().run_in_executor(self._db, write)

    async def _answer(self, batch: list[_Pending], results: list[StoredEvent | Exception]) -> None:
        """Queue what was newly recorded, then answer each request with its own result."""
        new = [
            (r.id, p.event.event_type)
            for p, r in zip(batch, results, strict=True)
            if isinstance(r, StoredEvent) and not r.duplicate and r.status == RECEIVED
        ]
        new_ids = [event_id for event_id, _ in new]
        queued = await self._push(new)
        queued_ids = set(new_ids) if queued else set()
        for pending, result in zip(batch, results, strict=True):
            if pending.future.done():  # the request gave up at its deadline
                continue
            if isinstance(result, StoredEvent):
                pending.future.set_result(Accepted(result, result.id in queued_ids))
            elif self._ledger.refuses_data(result):
                pending.future.set_exception(EventRefused(type(result).__name__))
            else:
                pending.future.set_exception(LedgerUnavailable(type(result).__name__))
        if queued:
            # Marked `queued` with the next batch's transaction, or after a short idle.
            self._to_mark.extend(new_ids)

    def busy_for(self) -> float | None:
        """Seconds the current ledger write has been running, or ``None`` when none is."""
        if self._writing_since is None:
            return None
        return asyncio.get_running_loop().time() - self._writing_since

    async def _push(self, events: list[tuple[str, str]]) -> bool:
        if not events:
            return False
        try:
            await self._publish(events)
        except Exception as exc:  # broker down: events stay `received` for the sweeper
            log.warning("could not queue %d events (%s); they stay received", len(events), type(exc).__name__)
            return False
        return True

    def _flush_marks(self) -> None:
        marks, self._to_mark = self._to_mark, []
        if not marks:
            return
        try:
            self._ledger.mark_queued(marks, self._clock())
        except Exception as exc:  # cosmetic here: the messages are on the broker already
            log.warning("could not mark %d events queued: %s", len(marks), type(exc).__name__)
