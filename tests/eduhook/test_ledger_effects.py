"""Effect generations on SQLite and PostgreSQL: cancelling, making again, undoing once per generation,
provenance, and the upgrade of a ledger from before generations existed."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from eduhook.ledger import EventLedger, NewEvent, create_engine_for, upgrade
from eduhook.ledger import schema as current
from eduhook.ledger.database import MIGRATIONS, _v4_effect_generations, current_version
from eduhook.ledger.effects import CANCELLED, DONE, EffectKey, EffectLedger
from eduhook.ledger.provenance import Source

T0 = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
LEARNER = EffectKey("pennfoster", "learner", "acme", "1001", "PRG1")
CANCEL = EffectKey("pennfoster", "cancel", "acme", "1001", "PRG1")
FIRST_ORDER = Source("order", None, 5001, 201)
ITS_ENROLLMENT = Source("enrollment", 7001, 5001, 201)
NEW_ENROLLMENT = Source("enrollment", 7050, 5002, 201)


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = create_engine_for(database_url)
    upgrade(engine)
    return engine


def made(store: EffectLedger, key: EffectKey, source: Source, result: dict[str, object], event: str) -> None:
    claims = store.claim([key], event_id=event, source=source)
    assert claims.mine == [key], claims
    store.complete(key, claims.owner, result)


def undo(store: EffectLedger, generation: int, source: Source, event: str) -> None:
    claims = store.claim([CANCEL], event_id=event, source=source, undoes={CANCEL: (LEARNER, generation)})
    assert claims.mine == [CANCEL] and claims.generation[CANCEL] == generation
    store.complete(CANCEL, claims.owner, {"resource_id": f"CR-{generation}"})


def test_a_cancelled_effect_is_made_again_only_for_another_enrollment(engine: Engine) -> None:
    store = EffectLedger(engine, clock=lambda: T0)
    made(store, LEARNER, FIRST_ORDER, {"student_id": "52975707"}, "approved")
    undo(store, 1, ITS_ENROLLMENT, "canceled")
    [first] = store.latest(educator="acme", subjects=["1001"])[1:]
    assert (first.state, first.result) == (CANCELLED, {"student_id": "52975707"})
    assert first.cancellation is not None
    assert (first.cancellation["by"], first.cancellation["event_id"]) == (str(CANCEL), "canceled")
    assert first.cancellation["result"] == {"resource_id": "CR-1"}

    # The order again (a replay), or its enrollment: cancelled, nothing to send.
    for source in (FIRST_ORDER, ITS_ENROLLMENT, None):
        again = store.claim([LEARNER], event_id="replay", source=source)
        assert (again.mine, again.done, again.cancelled) == ([], {}, [LEARNER])
    # A new enrollment makes generation 2, knowing what Penn Foster already holds.
    renewed = store.claim([LEARNER], event_id="re-enrolled", source=NEW_ENROLLMENT)
    assert renewed.mine == [LEARNER] and renewed.generation == {LEARNER: 2}
    assert renewed.previous == {LEARNER: {"student_id": "52975707"}}
    store.complete(LEARNER, renewed.owner, {"student_id": "52975707", "order_number": "2"})
    assert store.claim([LEARNER], event_id="late", source=NEW_ENROLLMENT).done == {
        LEARNER: {"student_id": "52975707", "order_number": "2"}
    }
    # Generation 2 is undone by its own undo, once; generation 1's undo stays as it was.
    undo(store, 2, NEW_ENROLLMENT, "canceled again")
    assert store.claim([CANCEL], event_id="x", undoes={CANCEL: (LEARNER, 2)}).done == {
        CANCEL: {"resource_id": "CR-2"}
    }
    history = store.generations([LEARNER, CANCEL])
    assert [(g.generation, g.state) for g in history[LEARNER]] == [(1, CANCELLED), (2, CANCELLED)]
    assert [(g.generation, g.state, g.event_id) for g in history[CANCEL]] == [
        (1, DONE, "canceled"),
        (2, DONE, "canceled again"),
    ]


def test_an_order_cancelled_blocks_its_enrollments_and_a_transfer_blocks_nothing(engine: Engine) -> None:
    store = EffectLedger(engine, clock=lambda: T0)
    made(store, LEARNER, ITS_ENROLLMENT, {"student_id": "1"}, "created")
    undo(store, 1, FIRST_ORDER, "order canceled")
    assert store.claim([LEARNER], event_id="e", source=ITS_ENROLLMENT).cancelled == [LEARNER]
    assert store.claim([LEARNER], event_id="e", source=Source("order", None, 5002, 201)).generation == {
        LEARNER: 2
    }

    other = EffectKey("pennfoster", "learner", "acme", "1002", "PRG1")
    other_cancel = EffectKey("pennfoster", "cancel", "acme", "1002", "PRG1")
    moved_back = Source("enrollment", 7002, None, 201)
    made(store, other, moved_back, {"student_id": "2"}, "created")
    claims = store.claim(
        [other_cancel], event_id="moved", source=Source("transfer", 7002, None, 202),
        undoes={other_cancel: (other, 1)},
    )  # fmt: skip
    store.complete(other_cancel, claims.owner, {"resource_id": "CR"})
    # The same enrollment moved back to the first course: a new placement, generation 2.
    assert store.claim([other], event_id="back", source=moved_back).generation == {other: 2}


def test_concurrent_renewals_make_generation_2_once(engine: Engine) -> None:
    store = EffectLedger(engine, clock=lambda: T0)
    made(store, LEARNER, FIRST_ORDER, {"student_id": "1"}, "approved")
    undo(store, 1, FIRST_ORDER, "canceled")
    with ThreadPoolExecutor(6) as pool:
        results = list(
            pool.map(lambda i: store.claim([LEARNER], event_id=f"e{i}", source=NEW_ENROLLMENT), range(6))
        )
    assert sum(len(claims.mine) for claims in results) == 1
    assert {g.generation for g in store.generations([LEARNER])[LEARNER]} == {1, 2}


def test_an_orders_effect_learns_its_enrollment_and_can_move(engine: Engine) -> None:
    store = EffectLedger(engine, clock=lambda: T0)
    made(store, LEARNER, FIRST_ORDER, {"student_id": "1"}, "approved")
    assert store.claim([LEARNER], event_id="created", source=ITS_ENROLLMENT).done
    [effect] = store.latest(educator="acme", subjects=["1001"])
    assert effect.source == Source("order", 7001, 5001, 201)
    store.move([effect], Source("enrollment", 7001, 5001, 202))
    [moved] = store.latest(educator="acme", subjects=["1001"])
    assert moved.source == Source("enrollment", 7001, 5001, 202)


# The ledger as it was before generations: the effects table of version 2.
_OLD = sa.MetaData()
_OLD_EFFECTS = sa.Table(
    "effects", _OLD,
    sa.Column("key", sa.String(255), primary_key=True), sa.Column("partner", sa.String(32), nullable=False),
    sa.Column("action", sa.String(32), nullable=False), sa.Column("educator", sa.String(128), nullable=False),
    sa.Column("subject", sa.String(128), nullable=False), sa.Column("target", sa.String(255), nullable=False),
    sa.Column("state", sa.String(16), nullable=False), sa.Column("lease_owner", sa.String(64)),
    sa.Column("lease_until", current.UTCDateTime), sa.Column("event_id", sa.String(36)),
    sa.Column("result", sa.JSON), sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", current.UTCDateTime, nullable=False),
    sa.Column("updated_at", current.UTCDateTime, nullable=False),
    sa.Index("ix_effects_subject", "educator", "subject"), sa.Index("ix_effects_state", "state"),
)  # fmt: skip


def old_ledger(url: str) -> Engine:
    """A ledger at the last version before generations, holding an order's effects and a cancel."""
    engine = create_engine_for(url)
    current.metadata.create_all(
        engine, tables=[current.events, current.attempts, current.replays, current.schema_version]
    )
    _OLD.create_all(engine)
    before = MIGRATIONS.index(_v4_effect_generations)
    events = []
    made_by = [("approved", "order.approved", 5001), ("canceled", "order.canceled", 5001),
               ("created", "enrollment.created", 7002)]  # fmt: skip
    for event_id, event_type, resource in made_by:
        body = {"tenant_id": "t", "educator": "acme", "event": event_type, "event_data": {"id": resource}}
        events.append(NewEvent(event_id, "acme", "t", event_type, event_id, orjson.dumps(body).decode(),
                               "received", None, T0))  # fmt: skip
    EventLedger(engine).insert_batch(events)
    row = {"educator": "acme", "subject": "1001", "target": "PRG1", "state": "done", "attempts": 1,
           "created_at": T0, "updated_at": T0}  # fmt: skip
    with engine.begin() as conn:
        conn.execute(
            current.schema_version.insert(), [{"version": n, "applied_at": T0} for n in range(1, before + 1)]
        )
        conn.execute(_OLD_EFFECTS.insert(), [
            {**row, "key": str(LEARNER), "partner": "pennfoster", "action": "learner", "event_id": "approved",
             "result": {"student_id": "52975707"}},
            {**row, "key": str(CANCEL), "partner": "pennfoster", "action": "cancel", "event_id": "canceled",
             "result": {"resource_id": "CR-1"}},
            {**row, "key": "appsembler:enroll:acme:1002:course-v1:A+B+C", "partner": "appsembler",
             "action": "enroll", "subject": "1002", "target": "course-v1:A+B+C", "event_id": "created",
             "result": {"enrolled": True}},
        ])  # fmt: skip
    return engine


def test_a_ledger_from_before_generations_is_upgraded_with_its_effects(database_url: str) -> None:
    engine = old_ledger(database_url)
    before = MIGRATIONS.index(_v4_effect_generations)
    assert upgrade(engine) == (before, len(MIGRATIONS))
    assert current_version(engine) == len(MIGRATIONS)
    assert sa.inspect(engine).get_pk_constraint("effects")["constrained_columns"] == ["key", "generation"]
    assert {index["name"] for index in sa.inspect(engine).get_indexes("effects")} >= {
        "ix_effects_subject",
        "ix_effects_state",
    }
    store = EffectLedger(engine, clock=lambda: T0)
    learner, cancel, enroll = (store.generations([k])[k] for k in (
        LEARNER, CANCEL, EffectKey("appsembler", "enroll", "acme", "1002", "course-v1:A+B+C")))  # fmt: skip
    assert [(g.generation, g.state, g.source) for g in learner] == [
        (1, CANCELLED, Source("order", None, 5001))
    ]
    assert learner[0].cancellation is not None and learner[0].cancellation["result"] == {
        "resource_id": "CR-1"
    }
    assert [(g.state, g.source) for g in cancel] == [(DONE, Source("order", None, 5001))]
    assert [(g.state, g.source) for g in enroll] == [(DONE, Source("enrollment", 7002))]
    # What the upgrade kept behaves as new: a new order makes the learner again; the old one does not.
    assert store.claim([LEARNER], event_id="again", source=FIRST_ORDER).cancelled == [LEARNER]
    renewed = store.claim([LEARNER], event_id="new", source=Source("order", None, 5009, 201))
    assert renewed.generation == {LEARNER: 2} and renewed.previous == {LEARNER: {"student_id": "52975707"}}

    # Upgrading again, or running the step on a ledger that already has its shape, changes nothing.
    assert upgrade(engine) == (len(MIGRATIONS), len(MIGRATIONS))
    with engine.begin() as conn:
        _v4_effect_generations(conn)
    assert len(store.generations([LEARNER])[LEARNER]) == 2
    engine.dispose()
