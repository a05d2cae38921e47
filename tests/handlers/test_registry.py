"""Which handler runs for which event type, and clear errors for bad handler modules."""

from __future__ import annotations

import re

import pytest

from handlers.registry import HandlerRegistry, HandlerResult, load_registry


def nothing(event: object, ctx: object) -> HandlerResult:
    return HandlerResult.ignored("nothing")


def test_the_builtin_handlers_cover_every_documented_event() -> None:
    registry = load_registry(["handlers.builtin"])
    documented = {"order.approved", "order.canceled", "order.denied", "enrollment.created",
                  "enrollment.updated", "enrollment.deleted", "lead.created"}  # fmt: skip
    assert documented <= registry.event_types
    assert registry.handles("order.approved") and not registry.handles("user.updated")
    assert registry.get("user.updated") is None


def test_one_type_has_one_handler() -> None:
    registry = HandlerRegistry()
    registry.on("a.b", "c.d")(nothing)
    registry.register("a.b", nothing)  # the same one again is fine
    with pytest.raises(ValueError, match=re.escape("a handler for 'a.b' is already registered")):
        registry.register("a.b", lambda e, c: None)
    assert registry.event_types == frozenset({"a.b", "c.d"})


@pytest.mark.parametrize(
    ("module", "message"),
    [
        ("handlers.no_such_module", "cannot be imported"),
        ("handlers.errors", "has no register(registry) function"),
    ],
)
def test_a_bad_handler_module_is_named(module: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        load_registry([module])
    assert module in str(error.value)
