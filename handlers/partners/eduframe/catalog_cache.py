"""Eduframe's catalog, shared by every worker through Redis, each record loaded by one worker at a time.

Variants, planned courses and courses rarely change, and every event needs them to find its
route. Eduframe allows 500 requests per 5 minutes per token and asks clients to cache and to
de-duplicate reads. ``dogpile.cache`` keeps each record in Redis for ``EDUHOOK_EDUFRAME_CACHE_SECONDS``.
Its Redis lock makes one worker (process or thread) load a missing record while the others wait
and take what it stored, so a cold start reads each course once, not once per thread. Once a
record is stale, one worker refreshes it and the others go on with the old value meanwhile.

An order's catalog variant is cached the same way (``OrderVariant``): an enrollment event needs
it to match routes by product. The enrollment itself is always re-read, and so is the order of an
``order.*`` event, which stores the variant here as it goes.

What goes in is catalog data: the fields the catalog models declare (ids, codes, names, dates)
and an order's variant id, as JSON, never a user. Eduframe's extra fields are left out because
nobody knows what they hold. Keys carry a hash of the API URL, a kind and a record id. Redis
being unreachable is a ``TransientError``, as for Penn Foster's token cache: the event is retried.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import orjson
import redis
from dogpile.cache import CacheRegion, make_region
from dogpile.cache.api import CantDeserializeException
from pydantic import BaseModel, ValidationError

from eduhook.settings import Settings
from handlers.errors import TransientError
from handlers.partners.eduframe.errors import PARTNER
from handlers.partners.eduframe.models import CatalogVariant, Course, PlannedCourse

log = logging.getLogger(__name__)


class OrderVariant(BaseModel):
    """The one thing routing needs from an order that is not the event's subject: what it bought."""

    id: int
    catalog_variant_id: int


CatalogRecord = TypeVar("CatalogRecord", CatalogVariant, PlannedCourse, Course, OrderVariant)
Loader = Callable[[int], CatalogRecord]


def _deserialize(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CantDeserializeException from exc  # dogpile treats it as a miss and loads again


def _declared_fields(record: BaseModel) -> dict[str, Any]:
    return record.model_dump(mode="json", include=set(type(record).model_fields))


class CatalogCache:
    """``get(CatalogVariant, 301, client.get_catalog_variant)``: the cached record, else loaded once."""

    def __init__(self, region: CacheRegion, *, namespace: str) -> None:
        self._region = region
        self._namespace = namespace

    @classmethod
    def from_settings(cls, settings: Settings) -> CatalogCache:
        """Redis when ``EDUHOOK_REDIS_URL`` is set (every worker shares it), else this process only;
        with ``EDUHOOK_EDUFRAME_CACHE_SECONDS=0`` nothing is kept and every get reads Eduframe."""
        ttl = settings.eduframe_cache_seconds
        digest = hashlib.sha256(settings.eduframe_api_url.rstrip("/").encode()).hexdigest()
        namespace = f"eduhook:eduframe:catalog:{digest[:16]}"
        if ttl <= 0:
            return cls(make_region().configure("dogpile.cache.null"), namespace=namespace)
        if not settings.redis_url:
            return cls(
                make_region().configure("dogpile.cache.memory", expiration_time=ttl), namespace=namespace
            )
        # A loader holds the lock for at most one Eduframe call; past that the lock frees itself,
        # so a worker that died while loading cannot stall the others for longer.
        lock_seconds = int(settings.http_connect_timeout + settings.http_read_timeout) + 5
        region = make_region(serializer=orjson.dumps, deserializer=_deserialize).configure(
            "dogpile.cache.redis",
            expiration_time=ttl,
            arguments={
                "url": settings.redis_url,
                # Stale values stay one more TTL, served while one worker refreshes them.
                "redis_expiration_time": max(1, int(2 * ttl)),
                "distributed_lock": True,
                "thread_local_lock": False,
                "lock_timeout": lock_seconds,
                "lock_sleep": 0.05,
                "socket_timeout": settings.http_connect_timeout,
            },
        )
        return cls(region, namespace=namespace)

    def get(self, kind: type[CatalogRecord], record_id: int, load: Loader[CatalogRecord]) -> CatalogRecord:
        """The record of ``kind`` with ``record_id``: from the cache, else ``load(record_id)``, stored."""
        key = self._key(kind, record_id)

        def create() -> dict[str, Any]:
            return _declared_fields(load(record_id))

        with _redis_errors():
            try:
                cached = self._region.get_or_create(key, create)
            except json.JSONDecodeError:  # dogpile's own header of the entry is damaged
                self._region.delete(key)
                cached = self._region.get_or_create(key, create)
        try:
            return kind.model_validate(cached)
        except ValidationError:
            # Stored by a version of eduhook whose model differed: load it again and replace it.
            log.info("eduframe catalog cache: replacing an unreadable %s entry", kind.__name__)
            fresh = load(record_id)
            self.put(fresh)
            return fresh

    def put(self, record: CatalogRecord) -> None:
        """Store ``record`` just read from Eduframe, so the next ``get`` of it reads nothing."""
        with _redis_errors():
            self._region.set(self._key(type(record), record.id), _declared_fields(record))

    def _key(self, kind: type[BaseModel], record_id: int) -> str:
        return f"{self._namespace}:{kind.__name__}:{record_id}"


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise TransientError(f"catalog cache unavailable ({type(exc).__name__})", partner=PARTNER) from exc
