"""``create_celery(settings)``: the Celery app, its tasks and the per-process event processor."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Sequence
from typing import Any

from celery import Celery

from eduhook.ledger import EventLedger, create_engine_for
from eduhook.settings import Settings
from handlers.context import HandlerContext, utc_now
from handlers.registry import load_registry
from workers.messages import DEFAULT_QUEUE, PROCESS_EVENT
from workers.processor import EventProcessor

log = logging.getLogger("eduhook.worker")

SWEEP = "eduhook.sweep_unqueued"
SWEEP_INTERVAL = 30.0
SWEEP_AGE = dt.timedelta(seconds=30)


class _PerProcess:
    """Builds the processor lazily in each worker process (never shared across a fork)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._pid: int | None = None
        self._processor: EventProcessor | None = None

    def get(self) -> EventProcessor:
        if self._processor is None or self._pid != os.getpid():
            engine = create_engine_for(self.settings.effective_database_url)
            context = HandlerContext(
                settings=self.settings,
                engine=engine,
                clock=utc_now,
                worker_id=f"{socket.gethostname()}:{os.getpid()}",
            )
            self._processor = EventProcessor(
                ledger=EventLedger(engine),
                registry=load_registry(self.settings.handler_modules),
                context=context,
                clock=utc_now,
            )
            self._pid = os.getpid()
        return self._processor


def create_celery(settings: Settings, *, redis_url: str, queue: str = DEFAULT_QUEUE) -> Celery:
    """The Celery app: Redis broker, late acks, one message at a time per worker process."""
    if settings.visibility_timeout <= settings.task_time_limit:
        raise ValueError("EDUHOOK_VISIBILITY_TIMEOUT must be longer than EDUHOOK_TASK_TIME_LIMIT")
    app = Celery("eduhook", broker=redis_url, set_as_current=False)
    app.conf.update(
        task_default_queue=queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=max(1, settings.task_time_limit - 5),
        broker_transport_options={
            "visibility_timeout": settings.visibility_timeout,
            "unacked_restore_interval": settings.unacked_restore_interval,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        # Task events cost ~7-10% of worker CPU; Flower switches them on while it watches
        # (its enable_events), and they carry event ids only.
        worker_send_task_events=settings.task_events,
        worker_hijack_root_logger=False,
        beat_schedule={"sweep-unqueued": {"task": SWEEP, "schedule": SWEEP_INTERVAL}},
    )
    processors = _PerProcess(settings)

    @app.task(name=PROCESS_EVENT, bind=True, max_retries=12)
    def process_event(self: Any, event_id: str) -> str:
        from sqlalchemy.exc import OperationalError

        try:
            return processors.get().process(event_id)
        except OperationalError as exc:
            # The ledger is down: try again shortly rather than lose the event.
            log.warning("event %s: ledger unavailable (%s); retrying", event_id, type(exc).__name__)
            raise self.retry(countdown=5) from exc

    @app.task(name=SWEEP)
    def sweep_unqueued() -> int:
        """Queue events recorded while the broker was unreachable."""
        ledger = processors.get().ledger
        ids: Sequence[str] = ledger.unqueued(utc_now() - SWEEP_AGE)
        for event_id in ids:
            process_event.apply_async(args=(event_id,))
        if ids:
            ledger.mark_queued(ids, utc_now())
            log.info("sweeper queued %d events that were recorded but not queued", len(ids))
        return len(ids)

    app.eduhook_processors = processors  # type: ignore[attr-defined]
    return app
