"""What the pipeline benchmark reads back: the ledger, the sandboxes' logs and processes' CPU."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench.pipeline_sandboxes import TIMES_PATH
from bench.procs import BenchError, cpu_seconds
from eduhook.ledger.schema import attempts, effects, events

SETTLED = ("succeeded", "ignored", "failed", "dead")
# Token endpoints are counted apart: they are per worker (cached), not per learner.
TOKEN_PATHS = ("/oauth/token", "/oauth2/access_token")
_NUMBER = re.compile(r"/\d+(?=/|$)")


def status_counts(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(events.c.status, sa.func.count()).group_by(events.c.status))
        return Counter({str(status): int(count) for status, count in rows})


def wait_settled(
    engine: Engine, expected: int, deadline: float, poll: float = 0.25, final: Iterable[str] = SETTLED
) -> Counter[str]:
    """Poll until ``expected`` events are in a ``final`` status or ``deadline`` (monotonic) passes."""
    final = tuple(final)
    while True:
        counts = status_counts(engine)
        if sum(counts[s] for s in final) >= expected or time.monotonic() > deadline:
            return counts
        time.sleep(poll)


@dataclass(frozen=True)
class EventRow:
    id: str
    status: str
    updated_at: float  # wall time of the last status change: for ``succeeded``, when it finished


def events_by_resource(engine: Engine) -> dict[int, EventRow]:
    """Events by ``event_data.id`` (the enrollment), so webhooks whose answer the generator never
    saw (a timeout) are still matched to what the ledger recorded."""
    query = sa.select(events.c.id, events.c.status, events.c.updated_at, events.c.payload)
    found: dict[int, EventRow] = {}
    with engine.connect() as conn:
        for event_id, status, updated, stored in conn.execute(query):
            # The body as received (JSON text), or already decoded on an older ledger.
            payload = orjson.loads(stored) if isinstance(stored, str | bytes) else stored
            resource = payload.get("event_data", {}).get("id") if isinstance(payload, dict) else None
            if isinstance(resource, int):
                found[resource] = EventRow(str(event_id), str(status), updated.timestamp())
    return found


@dataclass(frozen=True)
class EffectRow:
    state: str
    event_id: str | None
    updated_at: float  # for ``done``: when the worker recorded the partner's answer


def effect_rows(engine: Engine, *, partner: str, action: str) -> dict[str, EffectRow]:
    """Effects of one kind by subject (the Eduframe user id)."""
    query = sa.select(effects.c.subject, effects.c.state, effects.c.event_id, effects.c.updated_at).where(
        effects.c.partner == partner, effects.c.action == action
    )
    with engine.connect() as conn:
        return {
            str(subject): EffectRow(str(state), event_id, updated.timestamp())
            for subject, state, event_id, updated in conn.execute(query)
        }


def normalise(path: str) -> str:
    """``/enrollments/7001`` → ``/enrollments/{id}``, so calls group by endpoint."""
    return _NUMBER.sub("/{id}", path)


def partner_calls(client: httpx.Client, url: str) -> Counter[str]:
    """``METHOD path`` → count from the sandbox's request log (it never holds ``/_sandbox`` calls)."""
    answer = client.get(url + "/_sandbox/requests")
    answer.raise_for_status()
    return Counter(f"{r['method']} {normalise(r['path'])}" for r in answer.json())


def clear_requests(client: httpx.Client, url: str) -> None:
    client.delete(url + "/_sandbox/requests").raise_for_status()


def attempt_counts(engine: Engine) -> Counter[int]:
    """How many events took 1, 2, … attempts (rows of ``attempts``, so replays count too)."""
    per_event = sa.select(attempts.c.event_id, sa.func.count().label("n")).group_by(attempts.c.event_id)
    sub = per_event.subquery()
    query = sa.select(sub.c.n, sa.func.count()).group_by(sub.c.n)
    with engine.connect() as conn:
        return Counter({int(n): int(count) for n, count in conn.execute(query)})


def add_faults(client: httpx.Client, url: str, faults: Iterable[Mapping[str, Any]]) -> None:
    for fault in faults:
        client.post(url + "/_sandbox/faults", json=dict(fault)).raise_for_status()


def pennfoster_learners(client: httpx.Client, pennfoster_url: str) -> list[str]:
    """The alternate id of every learner the Penn Foster sandbox holds: a duplicate shows twice."""
    answer = client.get(pennfoster_url + "/_sandbox/state")
    answer.raise_for_status()
    return [str(learner["alternate_id"]) for learner in answer.json()["learners"]]


def learner_statuses(client: httpx.Client, pennfoster_url: str) -> Counter[int]:
    """HTTP status → how many ``POST /learners`` were answered with it (503s are the faults)."""
    answer = client.get(pennfoster_url + TIMES_PATH)
    answer.raise_for_status()
    return Counter(int(call.get("status", 0)) for call in answer.json())


def learner_arrivals(client: httpx.Client, pennfoster_url: str) -> dict[str, float]:
    """alternate id → wall time its ``POST /learners`` reached the Penn Foster sandbox (first one)."""
    answer = client.get(pennfoster_url + TIMES_PATH)
    answer.raise_for_status()
    arrivals: dict[str, float] = {}
    for call in answer.json():
        for alternate_id in call["alternate_ids"]:
            arrivals.setdefault(alternate_id, float(call["arrived"]))
    return arrivals


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants (a prefork pool's children)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            total += cpu_seconds(current)
        except OSError:
            if current == pid:
                raise BenchError(f"process {pid} is gone") from None
            continue
        todo.extend(parents.get(current, []))
    return total


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds per PostgreSQL backend serving ``database`` (its process title names it)."""
    found: dict[int, float] = {}
    needle = f" {database} ".encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"postgres:") and needle in cmdline.read_bytes():
                found[int(cmdline.parent.name)] = cpu_seconds(int(cmdline.parent.name))
        except OSError:
            continue  # ended meanwhile
    return found


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
