"""Celery task messages built directly, as kombu's Redis transport stores them.

Celery's own publish path costs ~0.5 ms of CPU per message (producer pools, routing, signals);
the receiver must enqueue thousands a second, so it builds the same protocol-2 message here and
pushes a batch with one LPUSH. ``tests/workers/test_messages.py`` checks the shape against a
message Celery itself publishes, and the integration tests run a real worker on these messages.
"""

from __future__ import annotations

import base64
import os
import socket
import uuid
from collections.abc import Sequence
from typing import Protocol

import orjson

PROCESS_EVENT = "eduhook.process_event"
DEFAULT_QUEUE = "eduhook"

_EMBED = b'{"callbacks": null, "errbacks": null, "chain": null, "chord": null}'
_ORIGIN = f"gen{os.getpid()}@{socket.gethostname()}"


def task_message(
    task: str, args: Sequence[str], *, queue: str = DEFAULT_QUEUE, task_id: str | None = None
) -> bytes:
    """One Celery protocol-2 message for ``task(*args)`` routed to ``queue``, JSON-encoded."""
    task_id = task_id or str(uuid.uuid4())
    body = b"[" + orjson.dumps(list(args)) + b", {}, " + _EMBED + b"]"
    message = {
        "body": base64.b64encode(body).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": task,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [None, None],
            "root_id": task_id,
            "parent_id": None,
            "argsrepr": repr(list(args)),
            "kwargsrepr": "{}",
            "origin": _ORIGIN,
            "ignore_result": True,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        },
        "properties": {
            "correlation_id": task_id,
            "reply_to": "",
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
        },
    }
    return orjson.dumps(message)


def process_event_message(
    event_id: str, *, event_type: str | None = None, queue: str = DEFAULT_QUEUE
) -> bytes:
    """The message that makes a worker run ``process_event(event_id[, event_type])``: ids, no payload.

    The event type, when the sender knows it, is there for Flower to show; workers read the
    event's own from the ledger.
    """
    return task_message(PROCESS_EVENT, [event_id, event_type] if event_type else [event_id], queue=queue)


class Pusher(Protocol):
    def lpush(self, name: str, *values: bytes) -> object: ...


def push_process_events(broker: Pusher, event_ids: Sequence[str], *, queue: str = DEFAULT_QUEUE) -> None:
    """Queue ``process_event`` for each id with one LPUSH (the scheduler's and replay's way in)."""
    if event_ids:
        broker.lpush(queue, *(process_event_message(event_id, queue=queue) for event_id in event_ids))
