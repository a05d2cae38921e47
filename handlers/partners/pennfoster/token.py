"""Penn Foster OAuth tokens: fetched with client credentials, shared by every worker through a cache."""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import orjson
import redis
from pydantic import SecretStr

from handlers.errors import TransientError
from handlers.partners._http import Clock, fail_shape, json_body, send
from handlers.partners.pennfoster.error_map import PARTNER, check_token_response

log = logging.getLogger(__name__)

# Renew this long before Penn Foster's expiry so a token never dies between check and use.
DEFAULT_MARGIN = 60.0
# How long one fetch may hold the cross-process lock, and how long the others wait for it.
FETCH_LOCK_SECONDS = 30.0


@dataclass(frozen=True)
class CachedToken:
    access_token: SecretStr
    expires_at: float  # on the client's clock
    renew_at: float  # shortly before expires_at: from here on a new token is fetched

    def to_bytes(self) -> bytes:
        return orjson.dumps(
            {
                "access_token": self.access_token.get_secret_value(),
                "expires_at": self.expires_at,
                "renew_at": self.renew_at,
            }
        )

    @classmethod
    def from_bytes(cls, raw: bytes | str) -> CachedToken | None:
        try:
            data = orjson.loads(raw)
            return cls(
                SecretStr(str(data["access_token"])), float(data["expires_at"]), float(data["renew_at"])
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None  # a foreign or damaged entry: treated as a miss and overwritten


class TokenCache(Protocol):
    """Where tokens live between calls; the Redis one shares them across worker processes."""

    def get(self, key: str) -> CachedToken | None: ...

    def put(self, key: str, token: CachedToken, ttl: float) -> None: ...

    def fetching(self, key: str) -> AbstractContextManager[None]:
        """Held while one caller fetches a new token, so the others wait and reuse it."""
        ...

    def discard(self, key: str, token: CachedToken) -> None:
        """Drop ``token`` unless another worker has already replaced it with a newer one."""
        ...


class MemoryTokenCache:
    """A per-process cache for unit tests and single-process use."""

    def __init__(self) -> None:
        self._tokens: dict[str, CachedToken] = {}
        self._lock = threading.Lock()
        self._fetching = threading.Lock()

    def fetching(self, key: str) -> AbstractContextManager[None]:
        return _held(self._fetching)

    def get(self, key: str) -> CachedToken | None:
        with self._lock:
            return self._tokens.get(key)

    def put(self, key: str, token: CachedToken, ttl: float) -> None:
        with self._lock:
            self._tokens[key] = token

    def discard(self, key: str, token: CachedToken) -> None:
        with self._lock:
            if self._tokens.get(key) == token:
                del self._tokens[key]


@contextmanager
def _held(lock: threading.Lock) -> Iterator[None]:
    with lock:
        yield


# Compare-and-delete, so a worker holding a stale token cannot delete the fresh one another made.
_DISCARD_IF_SAME = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisTokenCache:
    """Tokens in Redis with a TTL, so every worker process uses (and renews) the same token.

    Redis being unreachable is a ``TransientError``: without the shared cache every worker would
    fetch its own token on every call.
    """

    def __init__(self, client: redis.Redis, *, prefix: str = "eduhook:token:") -> None:
        self._redis = client
        self._prefix = prefix
        self._discard = client.register_script(_DISCARD_IF_SAME)

    def get(self, key: str) -> CachedToken | None:
        with _redis_errors():
            raw: Any = self._redis.get(self._prefix + key)
        return CachedToken.from_bytes(raw) if isinstance(raw, bytes | str) else None

    def put(self, key: str, token: CachedToken, ttl: float) -> None:
        with _redis_errors():
            self._redis.set(self._prefix + key, token.to_bytes(), ex=max(1, int(ttl)))

    @contextmanager
    def fetching(self, key: str) -> Iterator[None]:
        # A lock with a timeout (a fetch that dies frees it) and a bounded wait (a stuck one
        # cannot stall every worker): past either, the caller fetches for itself.
        lock = self._redis.lock(self._prefix + key + ":fetching", timeout=FETCH_LOCK_SECONDS,
                                blocking_timeout=FETCH_LOCK_SECONDS)  # fmt: skip
        with _redis_errors():
            acquired = lock.acquire()
        try:
            yield
        finally:
            if acquired:
                with suppress(redis.RedisError):
                    lock.release()

    def discard(self, key: str, token: CachedToken) -> None:
        with _redis_errors():
            self._discard(keys=[self._prefix + key], args=[token.to_bytes()])


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except redis.RedisError as exc:
        raise TransientError(f"token cache unavailable ({type(exc).__name__})", partner=PARTNER) from exc


def cache_key(base_url: str, client_id: str) -> str:
    """Names the token by API and client without containing the secret (or the client id itself)."""
    digest = hashlib.sha256(f"{base_url.rstrip('/')}\0{client_id}".encode()).hexdigest()
    return f"{PARTNER}:{digest[:32]}"


class TokenSource:
    """Hands out a valid bearer token, fetching one from ``POST /oauth/token`` when the cache has none."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        client_id: str,
        client_secret: SecretStr,
        api_key: SecretStr,
        cache: TokenCache,
        clock: Clock,
        margin: float = DEFAULT_MARGIN,
    ) -> None:
        self._http = http
        self._client_id = client_id
        self._client_secret = client_secret
        self._api_key = api_key
        self._cache = cache
        self._clock = clock
        self._margin = margin
        self.key = cache_key(str(http.base_url), client_id)

    def current(self) -> CachedToken:
        """A cached token still valid for ``margin`` seconds, else a freshly fetched one.

        One caller at a time fetches (across processes, with the Redis cache); the others wait
        for it and take the token it cached.
        """
        cached = self._valid()
        if cached is not None:
            return cached
        with self._cache.fetching(self.key):
            return self._valid() or self._fetch()

    def _valid(self) -> CachedToken | None:
        cached = self._cache.get(self.key)
        return cached if cached is not None and cached.renew_at > self._clock() else None

    def reject(self, token: CachedToken) -> None:
        """Penn Foster refused ``token``: forget it so the next ``current()`` fetches a new one."""
        self._cache.discard(self.key, token)

    def _fetch(self) -> CachedToken:
        pair = f"{self._client_id}:{self._client_secret.get_secret_value()}".encode()
        # The doc sends base64(client_id:client_secret) without the "Basic " scheme word.
        request = self._http.build_request(
            "POST",
            "/oauth/token",
            headers={"Authorization": base64.b64encode(pair).decode("ascii")},
            data={"grant_type": "client_credentials", "api_key": self._api_key.get_secret_value()},
        )
        response = send(self._http, request, partner=PARTNER, what="token request")
        check_token_response(response, now=self._clock)
        body = json_body(response, partner=PARTNER, what="token request")
        if not isinstance(body, dict):
            fail_shape(PARTNER, "token request", "expected an object")
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            fail_shape(PARTNER, "token request", "no access_token")
        try:
            lifetime = float(body.get("expires_in", 0))  # a string in the doc's example
        except (TypeError, ValueError):
            fail_shape(PARTNER, "token request", "expires_in is not a number")
        if lifetime <= 0:
            fail_shape(PARTNER, "token request", "expires_in is missing or not positive")
        # A token shorter-lived than the margin still gets used for half its life.
        keep = lifetime - min(self._margin, lifetime / 2)
        now = self._clock()
        token = CachedToken(SecretStr(access_token), now + lifetime, now + keep)
        self._cache.put(self.key, token, keep)
        log.info("pennfoster token fetched (expires in %.0f s)", lifetime)
        return token
