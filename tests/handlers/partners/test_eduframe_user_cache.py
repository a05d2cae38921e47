"""UserCache: a user read within the TTL is served from this process; 0 turns it off."""

from __future__ import annotations

from handlers.partners.eduframe import User
from handlers.partners.eduframe.user_cache import MAX_USERS, UserCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Reads:
    def __init__(self) -> None:
        self.ids: list[int] = []

    def __call__(self, user_id: int) -> User:
        self.ids.append(user_id)
        return User.model_validate({"id": user_id, "first_name": "Ann", "last_name": "Doe"})


def test_a_user_is_read_again_only_after_the_ttl() -> None:
    clock, reads = Clock(), Reads()
    cache = UserCache(60, clock=clock)
    assert [cache.get(1001, reads).id for _ in range(3)] == [1001] * 3
    clock.now += 59.9
    cache.get(1001, reads)
    assert reads.ids == [1001]
    clock.now += 0.2
    cache.get(1001, reads)
    assert reads.ids == [1001, 1001]


def test_0_seconds_reads_every_time() -> None:
    reads = Reads()
    cache = UserCache(0)
    cache.get(1001, reads)
    cache.get(1001, reads)
    assert reads.ids == [1001, 1001]


def test_the_cache_holds_at_most_max_users() -> None:
    reads = Reads()
    cache = UserCache(60, clock=Clock())
    for user_id in range(MAX_USERS + 1):
        cache.get(user_id, reads)
    cache.get(0, reads)  # the oldest one made room
    assert len(reads.ids) == MAX_USERS + 2
