"""The worker-side Prometheus metrics: their names, where processes keep them, and how they are read.

The ground floor for metrics: ``workers/`` (attempts, retries, dead letters), ``handlers/`` (partner
requests, rate limits) and ``eduhook/ledger/`` (effects done) all record here, so none of them has
to import another's layer. Metrics are created on first use, never at import.

Several processes write them (a prefork worker's children, each with threads), so values live in
``prometheus_client``'s multiprocess files: ``use_multiprocess_dir`` empties a folder and points
``PROMETHEUS_MULTIPROC_DIR`` at it before any metric exists; forked children inherit both the
variable and the setting, and ``/metrics`` (``eduhook/metrics_http.py``) merges every file.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import shutil
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Labels never hold a free value: a missing partner or error class is this word.
NONE = "none"

# Partner calls: most take 50-500 ms; the read timeout is 30 s.
REQUEST_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Receipt to effect: seconds when all is well, up to hours through retries and deferrals.
EFFECT_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0)


def use_multiprocess_dir(path: Path) -> Path:
    """Empty ``path`` and keep this process tree's metrics there. Call it before the first metric is
    created (``eduhook worker`` does, before it builds the Celery app)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(path)
    values = sys.modules.get("prometheus_client.values")
    if values is not None:  # imported already: metrics made from now on use the files too
        values.ValueClass = values.get_value_class()  # type: ignore[attr-defined]
    return path


def mark_process_dead(pid: int) -> None:
    """A worker child exited: drop its live gauges (``eduhook_tasks_in_progress``) from the sums."""
    from prometheus_client import multiprocess

    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


@dataclass(frozen=True)
class Metrics:
    """Every metric a worker process records (their help texts are README's table)."""

    attempts: Counter
    partner_requests: Counter
    partner_seconds: Histogram
    webhook_to_effect: Histogram
    retries_scheduled: Counter
    dead_letters: Counter
    rate_limited: Counter
    in_progress: Gauge


@functools.cache
def metrics() -> Metrics:
    """This process's metrics, created on first use. They belong to no registry: ``/metrics``
    reads them back from the multiprocess files; without those files they count in memory only."""
    return Metrics(
        attempts=Counter(
            "eduhook_event_attempts",
            "Processing attempts by event type, outcome and error class",
            ["event_type", "outcome", "error_class"],
            registry=None,
        ),
        partner_requests=Counter(
            "eduhook_partner_requests",
            "HTTP requests sent to partners, by operation and status (error: no answer)",
            ["partner", "operation", "status"],
            registry=None,
        ),
        partner_seconds=Histogram(
            "eduhook_partner_request_seconds",
            "Duration of partner HTTP requests",
            ["partner", "operation"],
            buckets=REQUEST_BUCKETS,
            registry=None,
        ),
        webhook_to_effect=Histogram(
            "eduhook_webhook_to_effect_seconds",
            "From an event's receipt to one of its partner effects being done",
            ["partner"],
            buckets=EFFECT_BUCKETS,
            registry=None,
        ),
        retries_scheduled=Counter(
            "eduhook_retries_scheduled",
            "Events given a next attempt (error_class deferred: held back, no attempt used)",
            ["partner", "error_class"],
            registry=None,
        ),
        dead_letters=Counter(
            "eduhook_dead_letters",
            "Events that became dead letters",
            ["partner", "error_class"],
            registry=None,
        ),
        rate_limited=Counter(
            "eduhook_rate_limited",
            "Partner calls held back by the shared budget, and 429 answers",
            ["partner"],
            registry=None,
        ),
        in_progress=Gauge(
            "eduhook_tasks_in_progress",
            "Events being processed now, summed over the live worker processes",
            multiprocess_mode="livesum",
            registry=None,
        ),
    )


# The receipt time of the event being processed in this thread, for ``effect_done``.
_received_at: ContextVar[dt.datetime | None] = ContextVar("eduhook_metrics_received_at", default=None)


@contextlib.contextmanager
def processing(received_at: dt.datetime) -> Iterator[None]:
    """Around one attempt: counts it in progress, and times the effects it completes."""
    token = _received_at.set(received_at)
    gauge = metrics().in_progress
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()
        _received_at.reset(token)


def effect_done(partner: str, now: dt.datetime) -> None:
    """One partner effect is done: observe its age since the event's receipt (if in an attempt)."""
    received_at = _received_at.get()
    if received_at is not None:
        metrics().webhook_to_effect.labels(partner).observe(max(0.0, (now - received_at).total_seconds()))
