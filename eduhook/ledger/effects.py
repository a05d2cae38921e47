"""The ``effects`` table: claims on partner side effects under stable keys, and their results.

A key names one effect: ``partner:action:educator:subject:target`` (for example
``pennfoster:learner:acme:1042:PRG-7``). Claims carry a lease, so a worker that dies mid-call
frees its keys after the lease. What to claim and what a result means is the handlers' business
(``handlers/effects.py``); this module only keeps the rows.

States: ``claimed`` (a worker holds the lease), ``done`` (with the partner's ids), ``failed`` (the
partner did not do it; the next attempt sends again) and ``in_doubt`` (the request may have reached
the partner, a timeout for example; the next attempt asks the partner before it sends again).
A claim whose lease ran out is in doubt too: its worker may have sent the request before it died.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from eduhook.ledger.schema import effects

CLAIMED, DONE, FAILED, IN_DOUBT = "claimed", "done", "failed", "in_doubt"


@dataclass(frozen=True)
class EffectKey:
    partner: str
    action: str
    educator: str
    subject: str
    target: str

    def __str__(self) -> str:
        return f"{self.partner}:{self.action}:{self.educator}:{self.subject}:{self.target}"


@dataclass(frozen=True)
class EffectRecord:
    """One effect row as operators see it (``dlq show``, ``replay --dry-run``)."""

    key: EffectKey
    state: str
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    updated_at: dt.datetime


@dataclass
class Claims:
    """The outcome of one claim call: keys now ours, keys already done (with their results).

    ``in_doubt`` holds the keys of ``mine`` whose last request may have reached the partner.
    """

    owner: str
    mine: list[EffectKey] = field(default_factory=list)
    done: dict[EffectKey, dict[str, Any]] = field(default_factory=dict)
    busy: list[EffectKey] = field(default_factory=list)
    in_doubt: set[EffectKey] = field(default_factory=set)


class EffectLedger:
    """The ``effects`` table; every method is one short transaction."""

    def __init__(
        self,
        engine: Engine,
        *,
        lease: dt.timedelta = dt.timedelta(seconds=120),
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.clock = clock
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._insert = dialect.insert(effects).on_conflict_do_nothing(index_elements=["key"])
        self._settle = (
            effects.update()
            .where(
                effects.c.key == sa.bindparam("k"),
                effects.c.lease_owner == sa.bindparam("o"),
                effects.c.state == CLAIMED,
            )
            .values(
                state=sa.bindparam("s"),
                result=sa.bindparam("r", type_=effects.c.result.type),
                error=sa.bindparam("e"),
                lease_until=None,
                updated_at=sa.bindparam("u", type_=effects.c.updated_at.type),
            )
        )

    def claim(self, keys: Sequence[EffectKey], *, event_id: str, owner: str | None = None) -> Claims:
        """Take every key that is new, failed or in doubt before, or whose lease ran out; report the
        rest. Keys taken from ``in_doubt`` or from a lapsed lease are listed in ``Claims.in_doubt``."""
        claims = Claims(owner=owner or uuid.uuid4().hex)
        if not keys:
            return claims
        now = self.clock()
        until = now + self.lease
        by_name = {str(k): k for k in keys}
        names = list(by_name)
        with self.engine.begin() as conn:
            conn.execute(
                self._insert,
                [
                    {
                        "key": name, "partner": k.partner, "action": k.action, "educator": k.educator,
                        "subject": k.subject, "target": k.target, "state": CLAIMED,
                        "lease_owner": claims.owner, "lease_until": until, "event_id": event_id,
                        "attempts": 1, "created_at": now, "updated_at": now,
                    }
                    for name, k in by_name.items()
                ],
            )  # fmt: skip
            take = {
                "state": CLAIMED, "lease_owner": claims.owner, "lease_until": until, "event_id": event_id,
                "attempts": effects.c.attempts + 1, "updated_at": now,
            }  # fmt: skip
            doubtful = sa.or_(
                effects.c.state == IN_DOUBT, sa.and_(effects.c.state == CLAIMED, effects.c.lease_until < now)
            )
            # Two statements, so that which keys were in doubt is known from the rows this claim took.
            taken_in_doubt = conn.execute(
                effects.update()
                .where(effects.c.key.in_(names), doubtful)
                .values(**take)
                .returning(effects.c.key)
            ).scalars()
            claims.in_doubt = {by_name[name] for name in taken_in_doubt}
            conn.execute(
                effects.update().where(effects.c.key.in_(names), effects.c.state == FAILED).values(**take)
            )
            rows = conn.execute(
                sa.select(effects.c.key, effects.c.state, effects.c.lease_owner, effects.c.result).where(
                    effects.c.key.in_(names)
                )
            )
            for name, state, lease_owner, result in rows:
                key = by_name[name]
                if state == DONE:
                    claims.done[key] = result or {}
                elif state == CLAIMED and lease_owner == claims.owner:
                    claims.mine.append(key)
                else:
                    claims.busy.append(key)
        order = {k: i for i, k in enumerate(keys)}
        claims.mine.sort(key=order.__getitem__)
        claims.busy.sort(key=order.__getitem__)
        return claims

    def complete(self, key: EffectKey, owner: str, result: dict[str, Any]) -> None:
        self.settle(owner, done={key: result})

    def fail(self, key: EffectKey, owner: str, error: str) -> None:
        """Release the claim as failed; the next attempt may claim it again."""
        self.settle(owner, failed={key: error})

    def release(
        self,
        keys: Iterable[EffectKey],
        owner: str,
        *,
        in_doubt: Collection[EffectKey] = (),
        reason: str = "not attempted",
    ) -> None:
        """Give back claims that were never tried (e.g. the batch before them failed). Keys in
        ``in_doubt`` stay in doubt: nothing this attempt did settled what the last one may have done."""
        keys = list(keys)
        self.settle(
            owner,
            failed={key: reason for key in keys if key not in in_doubt},
            in_doubt={key: reason for key in keys if key in in_doubt},
        )

    def settle(
        self,
        owner: str,
        *,
        done: Mapping[EffectKey, dict[str, Any]] | None = None,
        failed: Mapping[EffectKey, str] | None = None,
        in_doubt: Mapping[EffectKey, str] | None = None,
    ) -> None:
        """Record the outcome of claimed effects in one transaction (a whole partner batch at once):
        ``done`` with their results, ``failed`` and ``in_doubt`` with their errors.

        Only claims ``owner`` still holds are settled: one that lost its lease leaves the row alone.
        """
        now = self.clock()
        rows = [
            {"k": str(key), "o": owner, "s": DONE, "r": result, "e": None, "u": now}
            for key, result in (done or {}).items()
        ] + [
            {"k": str(key), "o": owner, "s": state, "r": None, "e": error, "u": now}
            for state, errors in ((FAILED, failed), (IN_DOUBT, in_doubt))
            for key, error in (errors or {}).items()
        ]
        if rows:
            with self.engine.begin() as conn:
                conn.execute(self._settle, rows)

    def done_for(
        self, *, partner: str, action: str, educator: str, subjects: Iterable[str]
    ) -> dict[str, list[tuple[EffectKey, dict[str, Any]]]]:
        """Done effects of one kind per subject (Eduframe user): what eduhook itself created."""
        subjects = list(subjects)
        found: dict[str, list[tuple[EffectKey, dict[str, Any]]]] = {}
        if not subjects:
            return found
        query = sa.select(effects).where(
            effects.c.partner == partner, effects.c.action == action, effects.c.educator == educator,
            effects.c.subject.in_(subjects), effects.c.state == DONE,
        )  # fmt: skip
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                found.setdefault(row["subject"], []).append((_key(row), row["result"] or {}))
        return found

    def of_event(self, event_id: str) -> list[EffectRecord]:
        """The effects an event last claimed, in key order: what a replay would resume."""
        query = sa.select(effects).where(effects.c.event_id == event_id).order_by(effects.c.key)
        with self.engine.connect() as conn:
            return [
                EffectRecord(
                    key=_key(row),
                    state=row["state"],
                    attempts=int(row["attempts"]),
                    result=row["result"],
                    error=row["error"],
                    updated_at=row["updated_at"],
                )
                for row in conn.execute(query).mappings()
            ]


def _key(row: sa.RowMapping) -> EffectKey:
    return EffectKey(row["partner"], row["action"], row["educator"], row["subject"], row["target"])
