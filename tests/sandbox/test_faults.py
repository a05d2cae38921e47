"""The sandbox's faults: a seeded share of matching calls fails, repeatably; an outage lasts until cleared."""

from __future__ import annotations

import random
from collections.abc import Callable

import httpx
import pytest
from starlette.types import ASGIApp

from sandbox import pennfoster
from sandbox.faults import Fault, FaultPlan
from sandbox.server import RunningServer

LEARNERS = "/api/v4/b2b/learners"


def hits(plan: FaultPlan, calls: int, path: str = LEARNERS) -> list[int]:
    return [n for n in range(calls) if plan.take("POST", path) is not None]


def test_a_seeded_random_fault_hits_about_its_share_and_the_same_calls_each_time() -> None:
    rule = {"kind": "status", "status": 503, "probability": 0.2, "seed": 7, "path": LEARNERS, "count": 10_000}
    first = hits(FaultPlan([Fault.from_json(rule)]), 1000)
    second = hits(FaultPlan([Fault.from_json(rule)]), 1000)
    assert first == second
    assert 150 <= len(first) <= 250
    assert hits(FaultPlan([Fault.from_json({**rule, "seed": 8})]), 1000) != first


def test_calls_let_through_do_not_use_up_the_count() -> None:
    fault = Fault(kind="status", remaining=3, path=LEARNERS, probability=0.5, rng=random.Random(1))
    plan = FaultPlan([fault])
    assert len(hits(plan, 200)) == 3
    assert fault.remaining == 0


def test_other_paths_draw_nothing_and_a_certain_fault_draws_nothing() -> None:
    source = random.Random(3)
    state = source.getstate()
    plan = FaultPlan([Fault(kind="status", remaining=5, path=LEARNERS, probability=0.5, rng=source)])
    assert hits(plan, 10, path="/oauth/token") == []
    assert source.getstate() == state
    assert Fault(kind="status", rng=source).fires() and source.getstate() == state


@pytest.mark.parametrize("probability", [0, -0.1, 1.5])
def test_a_probability_outside_0_to_1_is_refused(probability: float) -> None:
    with pytest.raises(ValueError, match="probability"):
        Fault.from_json({"kind": "status", "probability": probability})


def test_the_rule_reads_back_with_its_probability_and_seed() -> None:
    fault = Fault.from_json({"kind": "status", "probability": 0.2, "seed": 7})
    assert (fault.to_json()["probability"], fault.to_json()["seed"]) == (0.2, 7)


def test_a_fault_with_a_large_count_keeps_the_partner_down_until_cleared(
    serve: Callable[[ASGIApp], RunningServer],
) -> None:
    """How a test takes Penn Foster down for as long as it likes: time does not end the outage."""
    url = serve(pennfoster.create_app()).url
    credentials = (pennfoster.DEFAULT_CLIENT_ID, pennfoster.DEFAULT_CLIENT_SECRET)
    form = {"grant_type": "client_credentials", "api_key": pennfoster.DEFAULT_API_KEY}

    def token_status() -> int:
        return httpx.post(f"{url}/oauth/token", auth=credentials, data=form).status_code

    outage = {"kind": "status", "status": 503, "count": 1_000_000_000}
    httpx.post(f"{url}/_sandbox/faults", json=outage).raise_for_status()
    down = [token_status() for _ in range(30)]
    httpx.post(f"{url}/_sandbox/clock", json={"advance": 3600}).raise_for_status()
    assert [*down, token_status()] == [503] * 31
    httpx.delete(f"{url}/_sandbox/faults").raise_for_status()
    assert token_status() == 200
