"""CatalogCache against the test's real Redis: shared, loaded once under contention, robust to bad entries."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from eduhook.settings import Settings
from handlers.errors import TransientError
from handlers.partners.eduframe import Course
from handlers.partners.eduframe.catalog_cache import CatalogCache, OrderVariant
from tests.conftest import wait_until

API = "https://api.eduframe.test/api/v1"


def settings(redis_url: str | None, ttl: float = 300.0, api: str = API) -> Settings:
    return Settings(redis_url=redis_url, eduframe_api_url=api, eduframe_cache_seconds=ttl)


class Loads:
    """A loader that counts its calls; ``gate`` (when given) holds each load until it is set."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.calls: list[int] = []
        self.gate = gate
        self._lock = threading.Lock()

    def __call__(self, course_id: int) -> Course:
        with self._lock:
            self.calls.append(course_id)
        if self.gate is not None:
            assert self.gate.wait(10)
        return Course.model_validate({"id": course_id, "code": f"C{course_id}", "teacher_note": "extra"})


def test_one_worker_reads_a_missing_record_while_the_others_wait_for_it(redis_url: str) -> None:
    """Two caches (two worker processes) and sixteen threads start cold on one course: one read."""
    caches = [CatalogCache.from_settings(settings(redis_url)) for _ in range(2)]
    loads = Loads(gate=threading.Event())
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(caches[n % 2].get, Course, 101, loads) for n in range(16)]
        wait_until(lambda: loads.calls, what="the first load")
        assert loads.gate is not None
        loads.gate.set()
        courses = [future.result(timeout=30) for future in futures]
    assert loads.calls == [101]
    assert {course.code for course in courses} == {"C101"}


def test_only_declared_fields_are_stored_and_a_second_cache_reads_nothing(redis_url: str) -> None:
    loads = Loads()
    CatalogCache.from_settings(settings(redis_url)).get(Course, 7, loads)
    again = CatalogCache.from_settings(settings(redis_url)).get(Course, 7, loads)
    assert loads.calls == [7] and again.code == "C7"
    assert "teacher_note" not in (again.model_extra or {})
    store = redis.Redis.from_url(redis_url)
    [key] = store.scan_iter("eduhook:eduframe:catalog:*:Course:7")
    assert b"teacher_note" not in (store.get(key) or b"")
    store.close()


def test_each_eduframe_api_has_its_own_entries(redis_url: str) -> None:
    loads = Loads()
    CatalogCache.from_settings(settings(redis_url)).get(Course, 7, loads)
    CatalogCache.from_settings(settings(redis_url, api="https://other.test/api/v1")).get(Course, 7, loads)
    assert loads.calls == [7, 7]


def test_put_serves_the_next_get(redis_url: str) -> None:
    cache = CatalogCache.from_settings(settings(redis_url))
    cache.put(OrderVariant(id=5001, catalog_variant_id=301))

    def never(order_id: int) -> OrderVariant:
        raise AssertionError("read Eduframe although the variant was stored")

    assert cache.get(OrderVariant, 5001, never).catalog_variant_id == 301


@pytest.mark.parametrize("stored", [b"not json at all", b'{"ct": 1, "v": 2}|{"id": "x"}'])
def test_an_unreadable_entry_is_read_again_and_replaced(redis_url: str, stored: bytes) -> None:
    loads = Loads()
    cache = CatalogCache.from_settings(settings(redis_url))
    cache.get(Course, 9, loads)
    store = redis.Redis.from_url(redis_url)
    [key] = store.scan_iter("eduhook:eduframe:catalog:*:Course:9")
    store.set(key, stored)
    assert cache.get(Course, 9, loads).code == "C9"
    assert cache.get(Course, 9, loads).code == "C9"
    assert loads.calls == [9, 9]
    store.close()


def test_without_redis_the_cache_is_this_process_and_with_0_seconds_there_is_none() -> None:
    loads = Loads()
    local = CatalogCache.from_settings(settings(None))
    assert [local.get(Course, 3, loads).code for _ in range(3)] == ["C3"] * 3
    off = CatalogCache.from_settings(settings(None, ttl=0))
    off.put(Course(id=3, code="C3"))
    assert [off.get(Course, 3, loads).code for _ in range(2)] == ["C3"] * 2
    assert loads.calls == [3, 3, 3]


def test_redis_unreachable_is_transient() -> None:
    cache = CatalogCache.from_settings(settings("redis://127.0.0.1:1/0"))
    with pytest.raises(TransientError, match="catalog cache unavailable"):
        cache.get(Course, 1, Loads())
