"""A worker's ``/metrics``: its folder of multiprocess files, its server, and its children's exits.

``eduhook worker --metrics-port`` calls ``prepare`` before the Celery app exists (so every metric,
in this process and in the children it forks, writes to the files), then ``serve`` once the app is
built. Each worker keeps its files in ``<metrics dir>/worker-<pid>``: several workers on one host
never share a folder, and a folder whose worker is gone is removed when the next one starts.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path
from typing import Any

import redis

from eduhook import metrics
from eduhook.metrics_http import MetricsServer, metrics_app, multiprocess_registry
from eduhook.settings import Settings
from handlers.protection import Protection
from handlers.protection.gauges import BreakerCollector

log = logging.getLogger("eduhook.worker")

PREFIX = "worker-"


def prepare(settings: Settings, pid: int | None = None) -> Path:
    """This worker's emptied metrics folder, in use from now on; leftovers of dead workers go."""
    pid = pid or os.getpid()
    root = settings.effective_metrics_dir
    root.mkdir(parents=True, exist_ok=True)
    for folder in root.glob(f"{PREFIX}*"):
        owner = folder.name.removeprefix(PREFIX)
        if owner.isdigit() and int(owner) != pid and not _alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)
    path = metrics.use_multiprocess_dir(root / f"{PREFIX}{pid}")
    _mark_children_dead_on_exit()
    return path


def serve(settings: Settings, redis_url: str, path: Path, port: int) -> MetricsServer:
    """``/metrics`` on ``EDUHOOK_METRICS_HOST:port`` (0: a free port, logged): every process's files
    merged, and the breakers read from Redis."""
    client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
    breakers = BreakerCollector(Protection.from_settings(settings, client))
    app = metrics_app(lambda: multiprocess_registry(str(path), [breakers]), settings.metrics_token)
    server = MetricsServer(app, settings.metrics_host, port).start()
    log.info("worker metrics on http://%s:%d/metrics", settings.metrics_host, server.port)
    return server


def close(path: Path) -> None:
    """The worker stops: its files go with it (counters restart from zero, as Prometheus expects)."""
    shutil.rmtree(path, ignore_errors=True)


def _mark_children_dead_on_exit() -> None:
    from celery.signals import worker_process_shutdown

    def child_exits(sender: Any = None, pid: int | None = None, **_: Any) -> None:
        metrics.mark_process_dead(pid or os.getpid())

    worker_process_shutdown.connect(child_exits, weak=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
