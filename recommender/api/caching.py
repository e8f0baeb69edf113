"""Answers of the read-only recommendation endpoints, cached per model version.

Two tiers: `LocalAnswerCache`, a WSGI wrapper that replays whole answers (status, headers after every
middleware, body) from an LRU inside each web process before Django is entered at all, and
`cached_per_version`, which keeps the views' answers in the shared Django cache (Redis in production) so
that other processes and restarts reuse them. Keys hold the active version id, so activating a version
changes every key and no answer outlives the model it came from; ANSWER_CACHE_SECONDS bounds how long a catalogue edit
(a title, an author) can stay unseen.
"""

import functools
import pickle
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from embeddings.serving import get_active

LOCAL_ENTRIES = 4096  # about 3 kB each: a few MB per process


def timeout() -> int:
    """settings.ANSWER_CACHE_SECONDS: how long answers are kept in both tiers; 0 turns caching off."""
    return settings.ANSWER_CACHE_SECONDS


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


local = LocalLRU(LOCAL_ENTRIES, settings.ANSWER_CACHE_SECONDS)


def _version_id() -> str | None:
    version = get_active(settings.ARTIFACTS_DIR)
    return version.cache_key if version is not None else None  # a fold-in changes the key too


def cached_per_version(view: Callable) -> Callable:
    """Keep a GET view's 200 answers in the shared cache under (active version, full path)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        version_id = _version_id()
        if version_id is None or not timeout():
            return view(request, *args, **kwargs)
        key = f"api:{version_id}:{request.get_full_path()}"
        body = cache.get(key)
        if body is not None:
            return HttpResponse(body, content_type="application/json")
        response = view(request, *args, **kwargs)
        if response.status_code == 200:
            cache.set(key, response.content, timeout())
        return response

    return wrapper


CACHED_PATHS = re.compile(r"^/api/(books|links)/\d+/(similar|books)/$")


class LocalAnswerCache:
    """WSGI wrapper: GET answers of CACHED_PATHS replayed from this process's LRU, exactly as Django sent them.

    The key also says whether the request had an Origin header, since CORS headers depend on it. Answers
    that are not 200, or that set a cookie, are never kept.
    """

    def __init__(self, app: Callable, store: LocalLRU | None = None) -> None:
        self.app = app
        self.store = store if store is not None else local

    def __call__(self, environ: dict, start_response: Callable):
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or not CACHED_PATHS.match(path):
            return self.app(environ, start_response)
        version_id = _version_id()
        if version_id is None or not timeout():
            return self.app(environ, start_response)
        key = f"wsgi:{version_id}:{path}?{environ.get('QUERY_STRING', '')}:{bool(environ.get('HTTP_ORIGIN'))}"
        hit = self.store.get(key)
        if hit is not None:
            status, headers, body = pickle.loads(hit)
            start_response(status, headers)
            return [body]
        status, headers, body = whole_answer(self.app, environ, start_response)
        if status.startswith("200") and not sets_cookie(headers):
            self.store.set(key, pickle.dumps((status, headers, body)))
        return [body]


def whole_answer(app: Callable, environ: dict, start_response: Callable) -> tuple[str, list, bytes]:
    """Call a WSGI app, passing its start_response through, and return its status, headers and whole body."""
    captured: dict = {}

    def capture(status: str, headers: list, exc_info=None):
        captured.update(status=status, headers=list(headers))
        return start_response(status, headers, exc_info)

    chunks = app(environ, capture)
    try:
        body = b"".join(chunks)
    finally:
        if hasattr(chunks, "close"):
            chunks.close()  # Django's request_finished: closes database connections
    return captured.get("status", ""), captured.get("headers", []), body


def sets_cookie(headers: list) -> bool:
    """Whether an answer sets a cookie: such answers are per client, never replayed."""
    return any(name.lower() == "set-cookie" for name, _ in headers)
