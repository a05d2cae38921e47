"""What a handler is given besides its event: settings, the ledger and a clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from eduhook.settings import Settings


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class HandlerContext:
    """Explicit collaborators for handlers; built once per worker process and reused."""

    settings: Settings
    engine: Engine
    clock: Callable[[], dt.datetime] = utc_now
    worker_id: str = "worker"
    # Long-lived objects handlers build on first use (partner clients, caches), by name.
    services: dict[str, Any] = field(default_factory=dict)
