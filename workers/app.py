"""``create_celery(settings)``: the Celery app, its two tasks and the per-process collaborators."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Sequence

import redis
from celery import Celery
from sqlalchemy.exc import OperationalError

from eduhook.ledger import EventLedger, create_engine_for
from eduhook.settings import Settings
from handlers.context import HandlerContext, utc_now
from handlers.registry import load_registry
from sources.eduframe import EduframeReconciler, reconciler_for
from sources.studyabroad101 import ScheduledPoll, build_lead_poller
from workers.messages import DEFAULT_QUEUE, PROCESS_EVENT, push_process_events
from workers.processor import EventProcessor
from workers.retry import RetryPolicy
from workers.schedule import SCHEDULE, SCHEDULE_QUEUE, Scheduler

POLL_STUDYABROAD101 = "eduhook.poll_studyabroad101"
RECONCILE = "eduhook.reconcile_eduframe"
RETENTION = "eduhook.apply_retention"
# Per run at most 100,000 payloads, and half the task time limit; the next run carries on.
RETENTION_CHUNKS = 200

log = logging.getLogger("eduhook.worker")


class _PerProcess:
    """Builds the processor and scheduler lazily in each worker process (never shared across a fork)."""

    def __init__(self, settings: Settings, redis_url: str, queue: str) -> None:
        self.settings = settings
        self.redis_url = redis_url
        self.queue = queue
        self._pid: int | None = None
        self._processor: EventProcessor | None = None
        self._scheduler: Scheduler | None = None
        self._lead_poll: ScheduledPoll | None = None
        self._reconciler: EduframeReconciler | None = None
        self._broker: redis.Redis | None = None

    def _build(self) -> None:
        settings = self.settings
        engine = create_engine_for(settings.effective_database_url)
        ledger = EventLedger(engine)
        context = HandlerContext(
            settings=settings, engine=engine, clock=utc_now, worker_id=f"{socket.gethostname()}:{os.getpid()}"
        )
        self._processor = EventProcessor(
            ledger=ledger,
            registry=load_registry(settings.handler_modules),
            context=context,
            clock=utc_now,
            policy=RetryPolicy.from_settings(settings),
            abandon_after=dt.timedelta(seconds=settings.abandon_after),
            max_abandoned=settings.max_abandoned,
        )
        self._broker = redis.Redis.from_url(self.redis_url)
        self._reconciler = None
        self._scheduler = Scheduler.from_settings(settings, ledger, self._publish, utc_now)
        self._lead_poll = ScheduledPoll(
            lambda: build_lead_poller(settings, ledger, self._publish, clock=utc_now)
        )
        self._pid = os.getpid()

    def _publish(self, event_ids: Sequence[str]) -> None:
        assert self._broker is not None, "built by _build"
        push_process_events(self._broker, event_ids, queue=self.queue)

    def processor(self) -> EventProcessor:
        if self._processor is None or self._pid != os.getpid():
            self._build()
        assert self._processor is not None
        return self._processor

    def lead_poll(self) -> ScheduledPoll:
        if self._lead_poll is None or self._pid != os.getpid():
            self._build()
        assert self._lead_poll is not None
        return self._lead_poll

    def reconciler(self) -> EduframeReconciler:
        """Built on first use: only the reconcile runs need an Eduframe client of their own."""
        ledger = self.processor().ledger
        if self._reconciler is None:
            self._reconciler = reconciler_for(self.settings, ledger, self._publish, utc_now)
        return self._reconciler

    def scheduler(self) -> Scheduler:
        if self._scheduler is None or self._pid != os.getpid():
            self._build()
        assert self._scheduler is not None
        return self._scheduler


def create_celery(settings: Settings, *, redis_url: str, queue: str = DEFAULT_QUEUE) -> Celery:
    """The Celery app: Redis broker, late acks, one message at a time per worker process."""
    if settings.visibility_timeout <= settings.task_time_limit:
        raise ValueError("EDUHOOK_VISIBILITY_TIMEOUT must be longer than EDUHOOK_TASK_TIME_LIMIT")
    app = Celery("eduhook", broker=redis_url, set_as_current=False)
    interval = settings.scheduler_interval
    app.conf.update(
        task_default_queue=queue,
        task_routes={
            SCHEDULE: {"queue": SCHEDULE_QUEUE},
            POLL_STUDYABROAD101: {"queue": SCHEDULE_QUEUE},
            RECONCILE: {"queue": SCHEDULE_QUEUE},
            RETENTION: {"queue": SCHEDULE_QUEUE},
        },
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
        # A run nobody picked up within one interval is stale: the next one does the same work.
        beat_schedule={
            "schedule": {"task": SCHEDULE, "schedule": interval, "options": {"expires": interval}},
            **_source_schedule(settings),
            **reconcile_schedule(settings),
            **retention_schedule(settings),
        },
        beat_max_loop_interval=min(5.0, interval),
    )
    processors = _PerProcess(settings, redis_url, queue)

    @app.task(name=PROCESS_EVENT)
    def process_event(event_id: str, event_type: str | None = None) -> str:
        """Run the event's next attempt; ``event_type`` is a label for Flower (the ledger's is used)."""
        try:
            return processors.processor().process(event_id)
        except OperationalError as exc:
            # The ledger is down: the event stays queued (or its attempt open) in the ledger, and
            # the scheduler's sweeps queue it again once the ledger is back. Nothing is lost.
            log.warning(
                "event %s: ledger unavailable (%s); left to the scheduler", event_id, type(exc.orig).__name__
            )
            return "deferred"

    @app.task(name=SCHEDULE)
    def schedule() -> int:
        """Queue due retries and recover events a crash or a broker outage left behind."""
        return processors.scheduler().run().queued

    @app.task(name=POLL_STUDYABROAD101)
    def poll_studyabroad101() -> int:
        """Record new StudyAbroad101 leads as events (sources/studyabroad101.py)."""
        report = processors.lead_poll().run()
        return report.new if report is not None else 0

    @app.task(name=RECONCILE)
    def reconcile_eduframe() -> int:
        """Record the webhooks Eduframe gave up on (sources/eduframe.py); returns how many."""
        return processors.reconciler().run_scheduled().recovered

    @app.task(name=RETENTION)
    def apply_retention() -> int:
        """Replace old final events' payloads by skeletons (eduhook/ledger/retention.py)."""
        from eduhook.ledger.retention import RetentionLedger

        now = utc_now()
        days = settings.payload_retention_days
        redacted = RetentionLedger(processors.processor().ledger.engine).apply_retention(
            now - dt.timedelta(days=days), now, actor="eduhook beat",
            reason=f"payload retention: {days} days", max_chunks=RETENTION_CHUNKS,
            time_budget=settings.task_time_limit / 2,
        )  # fmt: skip
        if redacted:
            log.info("retention: %d payloads older than %d days replaced by their ids", redacted, days)
        return redacted

    app.eduhook_processors = processors  # type: ignore[attr-defined]
    return app


def _source_schedule(settings: Settings) -> dict[str, dict[str, object]]:
    """The pollers' beat entries: StudyAbroad101's when a provider user is configured."""
    if not settings.studyabroad101_api_user:
        return {}
    every = settings.studyabroad101_poll_interval
    return {"studyabroad101": {"task": POLL_STUDYABROAD101, "schedule": every, "options": {"expires": every}}}


def reconcile_schedule(settings: Settings) -> dict[str, dict[str, object]]:
    """Beat's reconcile entry, when there are webhooks to watch; a run left over expires."""
    if not settings.eduframe_webhook_ids:
        return {}
    interval = settings.eduframe_reconcile_interval
    return {"reconcile-eduframe": {"task": RECONCILE, "schedule": interval, "options": {"expires": interval}}}


def retention_schedule(settings: Settings) -> dict[str, dict[str, object]]:
    """Beat's retention entry: always on, every ``retention_interval`` (a day by default)."""
    every = settings.retention_interval
    return {"retention": {"task": RETENTION, "schedule": every, "options": {"expires": every}}}


def worker_queues(queue: str = DEFAULT_QUEUE) -> str:
    """The queues every worker consumes: events, and the scheduler's runs."""
    return f"{queue},{SCHEDULE_QUEUE}"
