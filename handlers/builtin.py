"""The handlers eduhook ships; the default of ``EDUHOOK_HANDLER_MODULES``."""

from __future__ import annotations

from handlers import enrollments, leads, orders, studyabroad101_leads
from handlers.registry import HandlerRegistry


def register(registry: HandlerRegistry) -> None:
    orders.register(registry)
    enrollments.register(registry)
    leads.register(registry)
    studyabroad101_leads.register(registry)
