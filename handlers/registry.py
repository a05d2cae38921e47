"""Which handler runs for which event type, loaded from the modules named in settings."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from eduhook.ledger import EventRecord
    from handlers.context import HandlerContext


@dataclass(frozen=True)
class HandlerResult:
    """A handler's verdict when it raised nothing: done, or nothing to do (with why)."""

    outcome: Literal["succeeded", "ignored"] = "succeeded"
    reason: str | None = None

    @classmethod
    def ignored(cls, reason: str) -> HandlerResult:
        return cls("ignored", reason)


Handler = Callable[["EventRecord", "HandlerContext"], "HandlerResult | None"]


class HandlerRegistry:
    """Maps event types (``order.approved``) to handler functions."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, event_type: str, handler: Handler) -> None:
        if event_type in self._handlers and self._handlers[event_type] is not handler:
            raise ValueError(f"a handler for {event_type!r} is already registered")
        self._handlers[event_type] = handler

    def on(self, *event_types: str) -> Callable[[Handler], Handler]:
        """Decorator form of :meth:`register` for one or more event types."""

        def decorate(handler: Handler) -> Handler:
            for event_type in event_types:
                self.register(event_type, handler)
            return handler

        return decorate

    def get(self, event_type: str) -> Handler | None:
        return self._handlers.get(event_type)

    def handles(self, event_type: str) -> bool:
        return event_type in self._handlers

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._handlers)


def load_registry(modules: Iterable[str]) -> HandlerRegistry:
    """Import each module and call its ``register(registry)``; a bad name is a clear error."""
    registry = HandlerRegistry()
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ValueError(
                f"handler module {name!r} (EDUHOOK_HANDLER_MODULES) cannot be imported: {exc}"
            ) from exc
        register = getattr(module, "register", None)
        if not callable(register):
            raise ValueError(f"handler module {name!r} has no register(registry) function")
        register(registry)
    return registry
