"""The Django cache on Redis, made optional: when Redis is down, reads miss and writes are dropped, quickly.

Everything cached here (recommendation answers, worker heartbeats) can be recomputed or is only informative, so
a lost Redis must cost speed, never an error page or a stall. Two guards:
- short socket timeouts (settings: OPTIONS socket_connect_timeout / socket_timeout), so one call fails fast;
- a circuit breaker: after a connection error, calls skip Redis entirely for OPEN_SECONDS, then one call tries
  again and, if Redis answers, the cache is back with no restart of the web process.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

OPEN_SECONDS = 5.0  # how long Redis is left alone after it failed
UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError)


class CircuitBreaker:
    """Closed: calls go through. Open (after a failure): calls are skipped until OPEN_SECONDS have passed."""

    def __init__(self, open_seconds: float = OPEN_SECONDS) -> None:
        self.open_seconds = open_seconds
        self._open_until = 0.0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def call(self, action: Callable[[], Any], fallback: Any) -> Any:
        if self.is_open:
            return fallback
        try:
            return action()
        except UNAVAILABLE as exc:
            with self._lock:
                if not self.is_open:
                    logger.warning("cache unavailable (%s); skipping it for %.0f s", exc, self.open_seconds)
                self._open_until = time.monotonic() + self.open_seconds
            return fallback


class ResilientRedisCache(RedisCache):
    """RedisCache whose every call degrades to a miss (reads) or a no-op (writes) while Redis is unreachable."""

    def __init__(self, server: str, params: dict) -> None:
        super().__init__(server, params)
        self.breaker = CircuitBreaker()

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self.breaker.call(lambda: super(ResilientRedisCache, self).add(key, value, timeout, version), False)

    def get(self, key, default=None, version=None):
        return self.breaker.call(lambda: super(ResilientRedisCache, self).get(key, default, version), default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        self.breaker.call(lambda: super(ResilientRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self.breaker.call(lambda: super(ResilientRedisCache, self).touch(key, timeout, version), False)

    def delete(self, key, version=None):
        return self.breaker.call(lambda: super(ResilientRedisCache, self).delete(key, version), False)

    def get_many(self, keys, version=None):
        return self.breaker.call(lambda: super(ResilientRedisCache, self).get_many(keys, version), {})

    def has_key(self, key, version=None):
        return self.breaker.call(lambda: super(ResilientRedisCache, self).has_key(key, version), False)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self.breaker.call(lambda: super(ResilientRedisCache, self).set_many(data, timeout, version), list(data))

    def delete_many(self, keys, version=None):
        self.breaker.call(lambda: super(ResilientRedisCache, self).delete_many(keys, version), None)

    def clear(self):
        return self.breaker.call(lambda: super(ResilientRedisCache, self).clear(), False)
