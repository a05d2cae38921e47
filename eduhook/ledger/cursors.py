"""The ``cursors`` table: how far each polling source has read, moved with the events it recorded.

A cursor is a position (an ISO date: it sorts as it reads) and the ids already read at that
position. A source whose partner filters by date only reads the cursor's day again each time and
skips those ids. The position is written in the same transaction as the page's events
(``EventLedger.insert_batch(..., cursor=)``), so a crash mid-page loses nothing and duplicates
nothing, and it only moves forward: a backfill from an older date leaves it where it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from eduhook.ledger.schema import cursors


@dataclass(frozen=True)
class Cursor:
    """Where a source has read up to: ``position`` and the ids already read there."""

    name: str
    position: str
    seen: frozenset[str] = field(default_factory=frozenset)
    failures: int = 0

    def advanced(self, position: str, ids: Iterable[str]) -> Cursor:
        """This cursor after reading ``ids`` at ``position``; never moves back."""
        ids = frozenset(ids)
        if position > self.position:
            return Cursor(self.name, position, ids)
        if position == self.position:
            return Cursor(self.name, position, self.seen | ids)
        return Cursor(self.name, self.position, self.seen)


def upsert_sql(mark: str) -> str:
    """Write a cursor unless the stored one is further on; clears its failure count.

    Plain SQL that SQLite and PostgreSQL read alike, run by the ledger's fast path inside the
    transaction that inserts the events. ``mark`` is the DB-API placeholder.
    """
    return (
        "INSERT INTO cursors (name, position, seen, failures, updated_at)"  # noqa: S608
        f" VALUES ({mark}, {mark}, {mark}, 0, {mark})"
        " ON CONFLICT (name) DO UPDATE SET position = excluded.position, seen = excluded.seen,"
        " failures = 0, updated_at = excluded.updated_at WHERE excluded.position >= cursors.position"
    )


def upsert_params(cursor: Cursor) -> tuple[str, str, str]:
    """The cursor's name, position and seen ids (sorted JSON) for ``upsert_sql``."""
    return cursor.name, cursor.position, orjson.dumps(sorted(cursor.seen)).decode()


class CursorLedger:
    """Reads cursors and counts their failures; writing a position goes with the events."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def get(self, name: str) -> Cursor | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(cursors).where(cursors.c.name == name)).mappings().first()
        return None if row is None else _cursor(row)

    def count_failure(self, name: str, now: dt.datetime) -> int:
        """One more failure in a row for ``name``; returns how many there are now.

        Kept in the ledger so that polls run by different worker processes count together. A cursor
        that has never been written gets a row at the empty position, which any date passes.
        """
        with self.engine.begin() as conn:
            changed = conn.execute(
                cursors.update()
                .where(cursors.c.name == name)
                .values(failures=cursors.c.failures + 1, updated_at=now)
            )
            if not changed.rowcount:
                conn.execute(
                    cursors.insert().values(name=name, position="", seen="[]", failures=1, updated_at=now)
                )
            return int(conn.execute(sa.select(cursors.c.failures).where(cursors.c.name == name)).scalar_one())


def _cursor(row: sa.RowMapping) -> Cursor:
    seen: list[Any] = orjson.loads(row["seen"])
    return Cursor(row["name"], row["position"], frozenset(str(i) for i in seen), int(row["failures"]))
