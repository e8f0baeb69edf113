"""The Redis cache degrades to misses, quickly, when Redis is unreachable (a real closed port, no mock)."""

import time

from recommender.resilient_cache import ResilientRedisCache
from tests.servers import free_port


def cache_on(port: int) -> ResilientRedisCache:
    options = {"socket_connect_timeout": 0.25, "socket_timeout": 0.25}
    return ResilientRedisCache(f"redis://127.0.0.1:{port}/0", {"OPTIONS": options})


def test_unreachable_redis_is_a_fast_miss_then_skipped():
    cache = cache_on(free_port())  # nothing listens there
    started = time.monotonic()
    assert cache.get("key", "default") == "default"
    cache.set("key", "value")
    assert cache.get_many(["a", "b"]) == {}
    assert cache.add("key", "value") is False
    assert time.monotonic() - started < 1.0
    assert cache.breaker.is_open  # the next calls skip Redis without trying
    started = time.monotonic()
    for _ in range(1000):
        cache.get("key")
    assert time.monotonic() - started < 0.5
