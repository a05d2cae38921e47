"""The embedded Redis: starts, is shared by a second caller, and keeps data across a restart."""

from __future__ import annotations

from pathlib import Path

import redis

from eduhook.embedded_redis import start_embedded_redis


def test_start_attach_persist_and_stop(tmp_path: Path) -> None:
    first = start_embedded_redis(tmp_path)
    try:
        assert first.owned
        second = start_embedded_redis(tmp_path)
        assert not second.owned and second.url == first.url
        client = redis.Redis.from_url(first.url)
        client.lpush("eduhook", b"message")
        client.close()
        second.stop()  # not ours to stop: a no-op
        assert redis.Redis.from_url(first.url).ping()
    finally:
        first.stop()
    again = start_embedded_redis(tmp_path)
    try:
        assert again.owned
        assert redis.Redis.from_url(again.url).lrange("eduhook", 0, -1) == [b"message"]
    finally:
        again.stop()
