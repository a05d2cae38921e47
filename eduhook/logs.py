"""Logging for every eduhook process, set up in one place: text or JSON lines, with the event's context.

``configure_logging`` installs one handler on the root logger (stderr); uvicorn, Celery, Flower
and the CLI all log through it. ``log_context`` puts what is known about the event being handled
(``event_id``, ``event_type``, ``educator``, ``partner``, ``attempt``) in a context variable, and
every record logged inside it carries those fields: as JSON keys in ``json`` format. Context
values are ids and names of event types and partners, never personal data.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
CONTEXT_FIELDS = ("event_id", "event_type", "educator", "partner", "attempt")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_context: ContextVar[Mapping[str, str | int]] = ContextVar("eduhook_log_context", default={})  # noqa: B039


def _merged(fields: Mapping[str, str | int | None]) -> Mapping[str, str | int]:
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:  # a closed set, so nothing personal slips into every line of an attempt
        raise TypeError(f"not a log context field: {', '.join(sorted(unknown))}")
    return {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}


@contextlib.contextmanager
def log_context(**fields: str | int | None) -> Iterator[None]:
    """Records logged inside carry ``fields`` (``None`` values are left out), on top of the outer context."""
    token = _context.set(_merged(fields))
    try:
        yield
    finally:
        _context.reset(token)


def set_log_context(**fields: str | int | None) -> None:
    """Add ``fields`` to the current context until it ends: for a request's own asyncio task, whose
    context dies with it (uvicorn logs the access line in that task, after the app has returned)."""
    _context.set(_merged(fields))


class ContextFilter(logging.Filter):
    """Copies the current log context onto each record, as attributes the formatters can show."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in _context.get().items():
            if not hasattr(record, key):
                setattr(record, key, value)
        return True


class _Handler(logging.StreamHandler):  # type: ignore[type-arg]
    """eduhook's own handler, told apart from handlers someone else installed."""


def json_formatter() -> logging.Formatter:
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``msg``, then the context fields."""
    return JsonFormatter(
        "{levelname}{name}{message}",
        style="{",
        rename_fields={"levelname": "level", "name": "logger", "message": "msg"},
        timestamp="ts",
    )


def configure_logging(
    *, level: str | int = logging.INFO, log_format: LogFormat = "text", tokens: Sequence[str] = ()
) -> None:
    """(Re)configure the root logger: one stderr handler in ``log_format``, the context filter, and
    the webhook-token redaction (receiver/logging.py) for every logger's records."""
    from receiver.logging import RedactTokenFilter

    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _Handler)]
    if len(ours) < len(root.handlers):
        # Like logging.basicConfig: a root logger someone else configured (a host application,
        # pytest's capture) is left as it is.
        return
    for handler in ours:
        root.removeHandler(handler)
    handler = _Handler(sys.stderr)
    handler.setFormatter(json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactTokenFilter(tokens))
    root.addHandler(handler)
    logging.captureWarnings(True)  # a warning is one more log line, in the same format
    root.setLevel(level.upper() if isinstance(level, str) else level)
    # One line per partner request is noise unless debugging.
    logging.getLogger("httpx").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)
