"""Answers of the read-only recommendation endpoints, cached per model version.

Two tiers: a small LRU inside each web process (no round trip at all for hot books), then the shared Django
cache (Redis in production). The key holds the active version id, so activating a version changes every key
and no answer outlives the model it came from; TIMEOUT bounds how long a catalogue edit can stay unseen.
"""

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from embeddings.serving import get_active

TIMEOUT = 600  # seconds, both tiers
LOCAL_ENTRIES = 4096  # about 3 kB each: a few MB per process


class LocalLRU:
    """A thread-safe, size- and age-bounded map of key -> bytes."""

    def __init__(self, max_entries: int, timeout: float) -> None:
        self.max_entries = max_entries
        self.timeout = timeout
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            stored_at, body = item
            if time.monotonic() - stored_at > self.timeout:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return body

    def set(self, key: str, body: bytes) -> None:
        with self._lock:
            self._items[key] = (time.monotonic(), body)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


local = LocalLRU(LOCAL_ENTRIES, TIMEOUT)


def cached_per_version(view: Callable) -> Callable:
    """Cache a GET view's 200 answers under (active version, full path)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        version = get_active(settings.ARTIFACTS_DIR)
        if version is None:
            return view(request, *args, **kwargs)
        key = f"api:{version.version_id}:{request.get_full_path()}"
        body = local.get(key)
        if body is None:
            body = cache.get(key)
            if body is not None:
                local.set(key, body)
        if body is not None:
            return HttpResponse(body, content_type="application/json")
        response = view(request, *args, **kwargs)
        if response.status_code == 200:
            local.set(key, response.content)
            cache.set(key, response.content, TIMEOUT)
        return response

    return wrapper
