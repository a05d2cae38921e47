"""The handlers eduhook ships; the default of ``EDUHOOK_HANDLER_MODULES``."""

from __future__ import annotations

from handlers.registry import HandlerRegistry


def register(registry: HandlerRegistry) -> None:
    """Partner handlers (orders, enrollments, leads) register here as they arrive."""
