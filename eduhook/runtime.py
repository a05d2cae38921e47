"""Process-level wiring shared by the CLI commands: settings, Redis (configured or embedded)."""

from __future__ import annotations

import atexit
import logging
from dataclasses import dataclass

from eduhook.embedded_redis import EmbeddedRedis, start_embedded_redis
from eduhook.settings import Settings

log = logging.getLogger("eduhook")


@dataclass
class RedisHandle:
    url: str
    embedded: EmbeddedRedis | None = None

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def resolve_redis(settings: Settings) -> RedisHandle:
    """``EDUHOOK_REDIS_URL`` if set; else the data dir's embedded Redis, started if needed.

    A Redis this process starts is stopped when it exits.
    """
    if settings.redis_url:
        return RedisHandle(settings.redis_url)
    embedded = start_embedded_redis(settings.data_dir)
    if embedded.owned:
        log.info("started embedded Redis at %s (data in %s)", embedded.url, embedded.directory)
        atexit.register(embedded.stop)
    else:
        log.info("using the embedded Redis already running at %s", embedded.url)
    return RedisHandle(embedded.url, embedded)
