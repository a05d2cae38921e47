"""The ``effects`` table: claims on partner side effects under stable keys, their generations and results.

A key names one effect: ``partner:action:educator:subject:target`` (for example
``pennfoster:learner:acme:1042:PRG-7``). Claims carry a lease, so a worker that dies mid-call
frees its keys after the lease.

An effect that was undone is ``cancelled``, not deleted: its partner ids stay, with the undo that
cancelled it. A later event about another enrollment or order makes the effect again as the next
generation of the same key; events about the cancelled enrollment or order itself (redeliveries,
replays) find it cancelled and do nothing. An undo effect has the generation of what it undoes,
so each generation is undone once. What to claim and what a result means is the handlers'
business (``handlers/effects.py``); this module only keeps the rows.

States: ``claimed`` (a worker holds the lease), ``done`` (with the partner's ids), ``failed`` (the
partner did not do it; the next attempt sends again), ``in_doubt`` (the request may have reached
the partner, a timeout for example; the next attempt asks the partner before it sends again) and
``cancelled``. A claim whose lease ran out is in doubt too: its worker may have sent the request
before it died.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from eduhook import metrics
from eduhook.ledger.provenance import Source, may_renew, source_from_row, source_values
from eduhook.ledger.schema import effects

CLAIMED, DONE, FAILED, IN_DOUBT, CANCELLED = "claimed", "done", "failed", "in_doubt", "cancelled"


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
    """One generation of an effect, as handlers and operators see it."""

    key: EffectKey
    generation: int
    state: str
    attempts: int
    result: dict[str, Any] | None
    error: str | None
    event_id: str | None
    source: Source | None
    cancellation: dict[str, Any] | None
    updated_at: dt.datetime
    lease_until: dt.datetime | None = None


@dataclass
class Claims:
    """The outcome of one claim call: keys now ours, keys already done (with their results), keys
    another worker holds, and keys cancelled for this very enrollment or order."""

    owner: str
    mine: list[EffectKey] = field(default_factory=list)
    done: dict[EffectKey, dict[str, Any]] = field(default_factory=dict)
    busy: list[EffectKey] = field(default_factory=list)
    cancelled: list[EffectKey] = field(default_factory=list)
    # The generation each claimed or done key is at, and for a key made again, the result of the
    # generation that was cancelled (a re-enrollment names the learner the partner already has).
    generation: dict[EffectKey, int] = field(default_factory=dict)
    previous: dict[EffectKey, dict[str, Any]] = field(default_factory=dict)
    # The keys of ``mine`` whose last request may have reached the partner: check before sending.
    in_doubt: set[EffectKey] = field(default_factory=set)

    def merge(self, again: Claims) -> None:
        """Fold in a later claim of the keys that were busy."""
        self.mine.extend(again.mine)
        self.done.update(again.done)
        self.cancelled.extend(again.cancelled)
        self.generation.update(again.generation)
        self.previous.update(again.previous)
        self.in_doubt |= again.in_doubt
        self.busy = again.busy


Undoes = Mapping[EffectKey, tuple[EffectKey, int]]


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
        self._insert = dialect.insert(effects).on_conflict_do_nothing(index_elements=["key", "generation"])
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

    def claim(
        self,
        keys: Sequence[EffectKey],
        *,
        event_id: str,
        source: Source | None = None,
        undoes: Undoes | None = None,
        owner: str | None = None,
    ) -> Claims:
        """Take every key that is new, failed before, or whose lease ran out; report the rest.

        A key whose latest generation is cancelled is made again as the next generation when
        ``source`` may renew it (:func:`may_renew`), and reported in ``cancelled`` otherwise. An
        undo key (in ``undoes``) is claimed at the generation of the effect it undoes.
        """
        claims = Claims(owner=owner or uuid.uuid4().hex)
        if not keys:
            return claims
        now = self.clock()
        by_name = {str(k): k for k in keys}
        undoes = undoes or {}
        with self.engine.begin() as conn:
            latest = _latest(conn, list(by_name))
            wanted: dict[str, int] = {}
            for name, key in by_name.items():
                row = latest.get(name)
                if key in undoes:
                    wanted[name] = undoes[key][1]
                elif row is None:
                    wanted[name] = 1
                elif row["state"] != CANCELLED:
                    wanted[name] = row["generation"]
                elif source is not None and may_renew(row["cancellation"], source):
                    wanted[name] = row["generation"] + 1
                    claims.previous[key] = row["result"] or {}
                else:
                    claims.cancelled.append(key)
            if wanted:
                self._take(conn, by_name, wanted, claims, event_id, source, undoes, now)
            made = [(str(k), claims.generation[k]) for k in claims.done if k not in undoes]
            if source is not None and made:
                _note_enrollment(conn, made, source)
        order = {k: i for i, k in enumerate(keys)}
        for listed in (claims.mine, claims.busy, claims.cancelled):
            listed.sort(key=order.__getitem__)
        return claims

    def _take(
        self,
        conn: Connection,
        by_name: Mapping[str, EffectKey],
        wanted: Mapping[str, int],
        claims: Claims,
        event_id: str,
        source: Source | None,
        undoes: Undoes,
        now: dt.datetime,
    ) -> None:
        """Insert the wanted generations that are new, take those free to take, sort the rest."""
        until = now + self.lease
        provenance = source_values(source)
        conn.execute(
            self._insert,
            [
                {
                    "key": name, "generation": generation, "partner": k.partner, "action": k.action,
                    "educator": k.educator, "subject": k.subject, "target": k.target, "state": CLAIMED,
                    "lease_owner": claims.owner, "lease_until": until, "event_id": event_id,
                    "attempts": 1, "created_at": now, "updated_at": now,
                    "undoes": str(undoes[k][0]) if k in undoes else None, **provenance,
                }
                for name, generation in wanted.items()
                for k in (by_name[name],)
            ],
        )  # fmt: skip
        pairs = sa.tuple_(effects.c.key, effects.c.generation).in_(list(wanted.items()))
        take = {
            "state": CLAIMED, "lease_owner": claims.owner, "lease_until": until, "event_id": event_id,
            "attempts": effects.c.attempts + 1, "updated_at": now, **provenance,
        }  # fmt: skip
        doubtful = sa.or_(
            effects.c.state == IN_DOUBT, sa.and_(effects.c.state == CLAIMED, effects.c.lease_until < now)
        )
        # Two statements, so that which keys were in doubt is known from the rows this claim took.
        taken_in_doubt = conn.execute(
            effects.update().where(pairs, doubtful).values(**take).returning(effects.c.key)
        ).scalars()
        claims.in_doubt |= {by_name[name] for name in taken_in_doubt}
        conn.execute(effects.update().where(pairs, effects.c.state == FAILED).values(**take))
        rows = conn.execute(
            sa.select(
                effects.c.key, effects.c.generation, effects.c.state, effects.c.lease_owner, effects.c.result
            ).where(pairs)
        )
        for name, generation, state, lease_owner, result in rows:
            key = by_name[name]
            if state == DONE:
                claims.done[key] = result or {}
                claims.generation[key] = generation
            elif state == CLAIMED and lease_owner == claims.owner:
                claims.mine.append(key)
                claims.generation[key] = generation
            else:
                # Held by another worker, or cancelled since it was read: either way, look again.
                claims.busy.append(key)
        mine = set(claims.mine)
        for key in [k for k in claims.previous if k not in mine]:
            del claims.previous[key]

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
        An undo that is done marks what it undoes ``cancelled`` in the same transaction.
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
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(self._settle, rows)
            if done:
                _cancel_undone(conn, [str(key) for key in done], owner, now)
        for key in done or {}:
            metrics.effect_done(key.partner, now)

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

    def latest(self, *, educator: str, subjects: Iterable[str]) -> list[EffectRecord]:
        """The latest generation of every effect of these subjects (Eduframe users), in key order."""
        subjects = list(subjects)
        if not subjects:
            return []
        query = sa.select(effects).where(effects.c.educator == educator, effects.c.subject.in_(subjects))
        with self.engine.connect() as conn:
            newest: dict[str, sa.RowMapping] = {}
            for row in conn.execute(query).mappings():
                if row["key"] not in newest or row["generation"] > newest[row["key"]]["generation"]:
                    newest[row["key"]] = row
        return [_record(newest[name]) for name in sorted(newest)]

    def move(self, effects_moved: Iterable[EffectRecord], source: Source) -> None:
        """Record ``source`` as what these effects now answer (a transfer kept them, or another
        live enrollment of the student still needs them)."""
        pairs = [(str(f.key), f.generation) for f in effects_moved]
        if not pairs:
            return
        with self.engine.begin() as conn:
            conn.execute(
                effects.update()
                .where(sa.tuple_(effects.c.key, effects.c.generation).in_(pairs))
                .values(**source_values(source), updated_at=self.clock())
            )

    def of_event(self, event_id: str) -> list[EffectRecord]:
        """The effects an event last claimed, in key order: what a replay would resume."""
        query = (
            sa.select(effects)
            .where(effects.c.event_id == event_id)
            .order_by(effects.c.key, effects.c.generation)
        )
        with self.engine.connect() as conn:
            return [_record(row) for row in conn.execute(query).mappings()]

    def generations(self, keys: Iterable[EffectKey]) -> dict[EffectKey, list[EffectRecord]]:
        """Every generation of each key, oldest first: an effect's history for operators."""
        names = sorted({str(k) for k in keys})
        found: dict[EffectKey, list[EffectRecord]] = {}
        if not names:
            return found
        query = sa.select(effects).where(effects.c.key.in_(names)).order_by(effects.c.generation)
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                record = _record(row)
                found.setdefault(record.key, []).append(record)
        return found


def _key(row: sa.RowMapping) -> EffectKey:
    return EffectKey(row["partner"], row["action"], row["educator"], row["subject"], row["target"])


def _latest(conn: Connection, names: Sequence[str]) -> dict[str, sa.RowMapping]:
    query = sa.select(
        effects.c.key, effects.c.generation, effects.c.state, effects.c.result, effects.c.cancellation
    ).where(effects.c.key.in_(names))
    newest: dict[str, sa.RowMapping] = {}
    for row in conn.execute(query).mappings():
        if row["key"] not in newest or row["generation"] > newest[row["key"]]["generation"]:
            newest[row["key"]] = row
    return newest


def _note_enrollment(conn: Connection, pairs: list[tuple[str, int]], source: Source) -> None:
    """An effect an order made is also its enrollment's once that enrollment's event finds it done,
    so a deletion of the enrollment matches it without trusting the deletion's payload."""
    if source.enrollment_id is None or source.order_id is None:
        return
    conn.execute(
        effects.update()
        .where(
            sa.tuple_(effects.c.key, effects.c.generation).in_(pairs),
            effects.c.source_kind == "order",
            effects.c.source_order_id == source.order_id,
            effects.c.source_enrollment_id.is_(None),
        )
        .values(source_enrollment_id=source.enrollment_id)
    )


def _cancel_undone(conn: Connection, names: list[str], owner: str, now: dt.datetime) -> None:
    """Mark ``cancelled`` what the undo effects just settled as done had undone."""
    undos = conn.execute(
        sa.select(effects).where(
            effects.c.key.in_(names),
            effects.c.lease_owner == owner,
            effects.c.state == DONE,
            effects.c.undoes.is_not(None),
        )
    ).mappings()
    for undo in undos:
        source = source_from_row(undo)
        cancellation = {
            "by": undo["key"],
            "event_id": undo["event_id"],
            "source": source.to_json() if source else None,
            "result": undo["result"],
            "at": now.isoformat(),
        }
        conn.execute(
            effects.update()
            .where(
                effects.c.key == undo["undoes"],
                effects.c.generation == undo["generation"],
                effects.c.state == DONE,
            )
            .values(state=CANCELLED, cancellation=cancellation, updated_at=now)
        )


def _record(row: sa.RowMapping) -> EffectRecord:
    return EffectRecord(
        key=EffectKey(row["partner"], row["action"], row["educator"], row["subject"], row["target"]),
        generation=int(row["generation"]),
        state=row["state"],
        attempts=int(row["attempts"]),
        result=row["result"],
        error=row["error"],
        event_id=row["event_id"],
        source=source_from_row(row),
        cancellation=row["cancellation"],
        updated_at=row["updated_at"],
        lease_until=row["lease_until"],
    )
