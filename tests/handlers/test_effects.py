"""Effect claims: new keys are ours, done keys are reported, busy keys wait, expired leases move on."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine

from eduhook.ledger import create_engine_for, upgrade
from handlers.effects import EffectKey, EffectStore
from handlers.errors import TransientError


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = create_engine_for(database_url)
    upgrade(engine)
    return engine


def key(subject: int, target: str = "PRG1") -> EffectKey:
    return EffectKey("pennfoster", "learner", "acme", str(subject), target)


def test_claim_complete_and_claim_again(engine: Engine) -> None:
    store = EffectStore(engine, clock=Clock())
    first = store.claim([key(1), key(2)], event_id="e1")
    assert first.mine == [key(1), key(2)] and not first.done and not first.busy
    store.complete(key(1), first.owner, {"student_id": "123"})
    store.fail(key(2), first.owner, "HTTP 503")
    again = store.claim([key(1), key(2)], event_id="e2")
    assert again.done == {key(1): {"student_id": "123"}}
    assert again.mine == [key(2)]  # a failed effect may be tried again


def test_a_live_claim_is_busy_for_others_until_its_lease_expires(engine: Engine) -> None:
    clock = Clock()
    store = EffectStore(engine, clock=clock, lease=dt.timedelta(seconds=60))
    holder = store.claim([key(1)], event_id="e1")
    other = store.claim([key(1)], event_id="e2")
    assert other.busy == [key(1)] and not other.mine
    clock.now += dt.timedelta(seconds=61)
    taken = store.claim([key(1)], event_id="e2")
    assert taken.mine == [key(1)]
    # The old holder can no longer settle what it lost.
    store.complete(key(1), holder.owner, {"late": True})
    store.complete(key(1), taken.owner, {"student_id": "9"})
    assert store.claim([key(1)], event_id="e3").done == {key(1): {"student_id": "9"}}


def test_claim_waiting_sees_the_other_workers_result(engine: Engine) -> None:
    store = EffectStore(engine, clock=Clock())
    holder = store.claim([key(1), key(2)], event_id="order")
    sleeps: list[float] = []

    def settle_on_sleep(seconds: float) -> None:
        sleeps.append(seconds)
        store.complete(key(1), holder.owner, {"student_id": "1"})
        store.fail(key(2), holder.owner, "E690000001")

    waiting = EffectStore(engine, clock=Clock(), sleep=settle_on_sleep)
    claims = waiting.claim_waiting([key(1), key(2), key(3)], event_id="enrollment")
    assert claims.done == {key(1): {"student_id": "1"}}
    assert sorted(claims.mine, key=str) == [key(2), key(3)]
    assert sleeps == [0.1]


def test_claim_waiting_gives_up_as_transient(engine: Engine) -> None:
    store = EffectStore(engine, clock=Clock())
    store.claim([key(1)], event_id="order")
    with pytest.raises(TransientError, match="still being worked on"):
        EffectStore(engine, clock=Clock(), sleep=lambda s: None).claim_waiting(
            [key(1)], event_id="other", wait=0.0
        )


def test_concurrent_claims_hand_each_key_to_exactly_one_owner(engine: Engine) -> None:
    keys = [key(n) for n in range(30)]
    store = EffectStore(engine, clock=Clock())
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda i: store.claim(keys, event_id=f"e{i}"), range(6)))
    owned = [k for claims in results for k in claims.mine]
    assert sorted(owned, key=str) == sorted(keys, key=str)


def test_latest_lists_what_eduhook_created_per_subject(engine: Engine) -> None:
    store = EffectStore(engine, clock=Clock())
    claims = store.claim([key(1), key(2), key(1, "OTHER")], event_id="e1")
    store.complete(key(1), claims.owner, {"student_id": "1"})
    store.complete(key(1, "OTHER"), claims.owner, {"student_id": "1b"})
    found = store.latest(educator="acme", subjects=["1", "3"])
    assert [(f.key.target, f.state, f.result) for f in found] == [
        ("OTHER", "done", {"student_id": "1b"}),
        ("PRG1", "done", {"student_id": "1"}),
    ]
    done = store.done_for(partner="pennfoster", action="learner", educator="acme", subjects=["1", "2", "3"])
    assert set(done) == {"1"}
    assert sorted(k.target for k, _ in done["1"]) == ["OTHER", "PRG1"]


def test_an_effect_settled_in_doubt_comes_back_in_doubt_until_settled_otherwise(engine: Engine) -> None:
    store = EffectStore(engine, clock=Clock())
    first = store.claim([key(1), key(2), key(3)], event_id="e1")
    assert first.in_doubt == set()  # new keys: nothing was sent before
    store.settle(first.owner, in_doubt={key(1): "timed out"}, failed={key(2): "HTTP 503"})
    store.complete(key(3), first.owner, {"student_id": "3"})
    [record] = [r for r in store.of_event("e1") if r.key == key(1)]
    assert (record.state, record.error) == ("in_doubt", "timed out")
    second = store.claim([key(1), key(2), key(3)], event_id="e2")
    assert second.mine == [key(1), key(2)] and second.in_doubt == {key(1)}
    # Released without being tried, it stays in doubt; a plain failure no longer is.
    store.release([key(1), key(2)], second.owner, in_doubt=second.in_doubt)
    third = store.claim([key(1), key(2)], event_id="e3")
    assert third.in_doubt == {key(1)}
    store.fail(key(1), third.owner, "HTTP 503 after the check")
    assert store.claim([key(1)], event_id="e4").in_doubt == set()


def test_a_lapsed_claim_is_taken_over_in_doubt(engine: Engine) -> None:
    clock = Clock()
    store = EffectStore(engine, clock=clock, lease=dt.timedelta(seconds=60))
    store.claim([key(1)], event_id="e1")  # its worker dies mid-call
    clock.now += dt.timedelta(seconds=61)
    taken = store.claim([key(1), key(2)], event_id="e2")
    assert taken.mine == [key(1), key(2)] and taken.in_doubt == {key(1)}


def test_claim_waiting_reports_keys_it_took_over_in_doubt(engine: Engine) -> None:
    clock = Clock()
    lease = dt.timedelta(seconds=60)
    EffectStore(engine, clock=clock, lease=lease).claim([key(1)], event_id="order")

    def lapse(seconds: float) -> None:
        clock.now += lease + dt.timedelta(seconds=1)  # the holder never comes back

    waiting = EffectStore(engine, clock=clock, lease=lease, sleep=lapse)
    claims = waiting.claim_waiting([key(1), key(2)], event_id="enrollment")
    assert sorted(claims.mine, key=str) == [key(1), key(2)] and claims.in_doubt == {key(1)}
