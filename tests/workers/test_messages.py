"""Our hand-built task messages match what Celery itself publishes to Redis."""

from __future__ import annotations

import base64
import json

import redis
from celery import Celery

from workers.messages import PROCESS_EVENT, process_event_message


def test_message_has_the_shape_celery_publishes(redis_url: str) -> None:
    app = Celery("shape", broker=redis_url, set_as_current=False)
    app.conf.task_default_queue = "eduhook"
    app.send_task(PROCESS_EVENT, args=["evt-1"])
    raw = redis.Redis.from_url(redis_url).lpop("eduhook")
    assert isinstance(raw, bytes)
    celery_message = json.loads(raw)
    ours = json.loads(process_event_message("evt-1"))

    assert ours.keys() == celery_message.keys()
    assert ours["headers"].keys() == celery_message["headers"].keys()
    assert ours["properties"].keys() == celery_message["properties"].keys()
    for key in ("content-type", "content-encoding"):
        assert ours[key] == celery_message[key]
    assert ours["properties"]["delivery_info"] == celery_message["properties"]["delivery_info"]
    assert ours["headers"]["task"] == PROCESS_EVENT
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]
    assert json.loads(base64.b64decode(ours["body"])) == json.loads(base64.b64decode(celery_message["body"]))


def test_message_carries_the_event_id_only() -> None:
    message = json.loads(process_event_message("evt-2"))
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == (["evt-2"], {})
    assert message["headers"]["argsrepr"] == "['evt-2']"


def test_the_receiver_adds_the_event_type_for_flower_to_show() -> None:
    message = json.loads(process_event_message("evt-3", event_type="order.approved"))
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert (args, kwargs) == (["evt-3", "order.approved"], {})
    assert message["headers"]["argsrepr"] == "['evt-3', 'order.approved']"
