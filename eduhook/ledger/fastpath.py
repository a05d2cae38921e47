"""The receiver's hot path in plain DB-API: insert a batch of events, mark events queued.

SQLAlchemy Core costs a few hundred µs of CPU per statement, which at one batch per few requests
was most of the receiver's budget. These statements run thousands of times a second, so they are
written once per dialect and sent on the pooled DB-API connection; everything else in the ledger
stays in Core, which reads back what this writes (``tests/eduhook/test_ledger.py``).
Only placeholders are ever interpolated into the SQL text.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from eduhook.ledger.schema import QUEUED, RECEIVED

if TYPE_CHECKING:
    from eduhook.ledger.events import NewEvent

_COLUMNS = (
    "id, educator, tenant_id, event_type, dedup_key, payload, status, status_reason, attempts,"
    " received_at, updated_at, source"
)


class FastPath:
    """Dialect-specific SQL behind ``EventLedger.insert_batch`` and ``mark_queued``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = engine.dialect.name == "sqlite"
        self._mark = "?" if self.sqlite else "%s"
        self._insert = (
            f"INSERT INTO events ({_COLUMNS}) VALUES ({self._marks(12)})"  # noqa: S608
            " ON CONFLICT (dedup_key) DO NOTHING"
        )
        # Each thread keeps its connection between batches: a pool checkout (with its liveness
        # ping on PostgreSQL) per batch cost more than the insert. A failed one is discarded.
        self._local = threading.local()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Any]:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self.engine.raw_connection()
        try:
            yield connection.cursor()
            connection.commit()
        except BaseException:
            self._local.connection = None
            with contextlib.suppress(Exception):
                connection.rollback()
            with contextlib.suppress(Exception):
                connection.invalidate()
            raise

    def _marks(self, count: int) -> str:
        return ", ".join([self._mark] * count)

    def _time(self, value: dt.datetime) -> Any:
        # SQLite keeps naive UTC text in SQLAlchemy's own format, so Core reads it back unchanged.
        if self.sqlite:
            return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        return value

    def insert_batch(
        self, batch: Sequence[NewEvent], *, mark_queued: Sequence[str] = (), now: dt.datetime | None = None
    ) -> dict[str, tuple[str, str]]:
        """Insert, skipping known dedup keys, and return ``dedup_key → (id, status)`` as stored.

        ``mark_queued`` ids (events of earlier batches now on the broker) are updated in the same
        transaction, which saves a commit (an fsync) per batch.
        """
        rows = [
            (
                e.id, e.educator, e.tenant_id, e.event_type, e.dedup_key, e.payload, e.status,
                e.status_reason, 0, self._time(e.received_at), self._time(e.received_at), e.source,
            )
            for e in batch
        ]  # fmt: skip
        keys = list({e.dedup_key for e in batch})
        select = f"SELECT dedup_key, id, status FROM events WHERE dedup_key IN ({self._marks(len(keys))})"  # noqa: S608
        with self._transaction() as cursor:
            if mark_queued:
                self._update_queued(cursor, mark_queued, now or dt.datetime.now(dt.UTC))
            cursor.executemany(self._insert, rows)
            cursor.execute(select, keys)
            return {key: (event_id, status) for key, event_id, status in cursor.fetchall()}

    def mark_queued(self, event_ids: Sequence[str], now: dt.datetime) -> int:
        with self._transaction() as cursor:
            return self._update_queued(cursor, event_ids, now)

    def _update_queued(self, cursor: Any, event_ids: Sequence[str], now: dt.datetime) -> int:
        # On SQLite "+status" keeps the planner on the primary key: through the status index the
        # update would scan every `received` row, which piles up while Redis is down.
        status = "+status" if self.sqlite else "status"
        update = (
            f"UPDATE events SET status = {self._mark}, updated_at = {self._mark}"  # noqa: S608
            f" WHERE {status} = {self._mark} AND id IN ({self._marks(len(event_ids))})"
        )
        cursor.execute(update, [QUEUED, self._time(now), RECEIVED, *event_ids])
        return int(cursor.rowcount)
