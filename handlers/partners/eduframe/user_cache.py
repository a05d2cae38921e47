"""Eduframe users read in the last minute, kept in this worker process only.

One purchase arrives as ``order.approved`` and one ``enrollment.created`` per student, and a
failed partner call retries the event soon after; each of these needs the same users. A user read
in the last ``EDUHOOK_EDUFRAME_USER_CACHE_SECONDS`` (60) serves them instead of another read.

Users are personal data (names, email, address, phone, birth date), so the cache stays in the
process that is handling them anyway: it adds no new place where personal data rests. Redis is
shared by every process, may be written to disk and replicated, and eduhook keeps personal data
out of it (messages, keys and values). The cache is bounded (``MAX_USERS``) and forgets a user
at the end of its time; ``0`` turns it off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from handlers.partners.eduframe.models import User

MAX_USERS = 2048


class UserCache:
    """``get(user_id, load)``: a user read within ``ttl`` seconds by this process, else ``load(user_id)``."""

    def __init__(self, ttl: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._users: TTLCache[int, User] | None = (
            TTLCache(maxsize=MAX_USERS, ttl=ttl, timer=clock) if ttl > 0 else None
        )
        self._lock = threading.Lock()

    def get(self, user_id: int, load: Callable[[int], User]) -> User:
        if self._users is None:
            return load(user_id)
        with self._lock:
            cached = self._users.get(user_id)
        if cached is not None:
            return cached
        # Loaded outside the lock: one slow read must not hold up the other threads' users.
        user = load(user_id)
        with self._lock:
            self._users[user_id] = user
        return user
