"""A WSGI fast path in front of Django for the two hot API answers: `similar` of a book and `recommend`.

Why: an uncached answer of either costs a fraction of a millisecond from memory (the similar table, the catalogue
snapshot, the served vectors), while Django's request cycle and its middleware cost more than that on their own: a
constant answer through Django reaches a fraction of the requests per second the server answers without it (a third
under gunicorn, about a tenth under granian: README, Serving).

What it answers, from memory only (recommendations.memory_only(): the snapshot must hold every book involved):

    GET  /api/books/<id>/similar/        no query string, or exactly k=<digits>
    POST /api/recommend/                 a body of at most MAX_BODY bytes with its Content-Length

The body comes from recommender.api.answers, the functions the views call, so the two cannot drift apart. The
status and headers (security headers, CSP, CORS, Vary, ...) are Django's own: the first answers of each request
shape go through Django, and once two of them agree on their headers and carry the very body this path computes,
those headers are replayed with the Content-Length of each answer. A new served version (or fold-in) forgets them,
so the next answers are learned again from Django.

A request shape is what the middleware reads that could change the headers: the host (ALLOWED_HOSTS), the scheme
and the proxy's headers (SECURE_SSL_REDIRECT, HSTS), and whether an Origin is sent (CORS). Everything else goes to
Django unchanged, so its answers and messages stay the only ones: other methods and paths, any other query
string, a bad k or body, unknown ids (the database may know them), the snapshot not built yet, a request with
a Cookie (sessions, CSRF cookie rotation), an unusual Origin, a CORS private-network request, errors of any kind.
"""

import io
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings

from embeddings.serving import get_active
from recommender import recommendations
from recommender.api import answers
from recommender.api.caching import sets_cookie, whole_answer

logger = logging.getLogger(__name__)

SIMILAR_PATH = re.compile(r"/api/books/([1-9][0-9]{0,18})/similar/")
K_QUERY = re.compile(r"(?:k=([0-9]{1,4}))?")
RECOMMEND_PATH = "/api/recommend/"
CONTENT_LENGTH = re.compile(r"[0-9]{1,6}")
MAX_BODY = 4096  # a reader's lists: 50 ids at most
PLAIN_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?|null")
# environ keys the middleware reads to decide headers or refusals (host checks, https redirects, HSTS)
SHAPE_KEYS = (
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.url_scheme",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PROTO",
)
REFUSED_KEYS = ("HTTP_COOKIE", "HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK")
MAX_SHAPES = 64  # per version: hosts are checked by Django before a shape is learned, but stay bounded
MAX_FAILURES = 20  # per shape: answers that never agree (a header that changes every time) stop being learned


@dataclass(frozen=True)
class Template:
    """Django's status and headers for one request shape, Content-Length left out (it is each answer's own)."""

    status: str
    before: tuple[tuple[str, str], ...]
    after: tuple[tuple[str, str], ...] | None  # None: Django sent no Content-Length

    @classmethod
    def of(cls, status: str, headers: Iterable[tuple[str, str]]) -> "Template":
        headers = tuple(headers)
        at = next((i for i, (name, _) in enumerate(headers) if name.lower() == "content-length"), None)
        if at is None:
            return cls(status, headers, None)
        return cls(status, headers[:at], headers[at + 1 :])

    def headers(self, length: int) -> list[tuple[str, str]]:
        if self.after is None:
            return list(self.before)
        return [*self.before, ("Content-Length", str(length)), *self.after]


@dataclass(frozen=True)
class Route:
    kind: str  # "similar" or "recommend"
    book_id: int = 0
    k: str | None = None
    body: bytes = b""


class FastPath:
    """WSGI wrapper: answers plain `similar` and `recommend` requests without entering Django (see the module)."""

    def __init__(self, app: Callable) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._version: str | None = None  # the served version's cache_key the dicts below belong to
        self._templates: dict[tuple, Template] = {}
        self._pending: dict[tuple, Template] = {}  # a shape's first answer, waiting for a second that agrees
        self._failures: dict[tuple, int] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        route = self._route(environ)
        if route is None:
            return self.app(environ, start_response)
        version = get_active(settings.ARTIFACTS_DIR)
        if version is None:
            return self.app(environ, start_response)
        self._follow(version.cache_key)
        origin = environ.get("HTTP_ORIGIN")
        key = (route.kind, origin is not None, *(environ.get(name) for name in SHAPE_KEYS))
        template = self._templates.get(key)
        if template is None and not self._may_learn(key):
            return self.app(environ, start_response)
        body = self._answer(route)
        if body is None:
            return self.app(environ, start_response)
        if template is None:
            return self._learn(environ, start_response, key, version.cache_key, body, origin)
        start_response(template.status, template.headers(len(body)))
        return [body]

    def _route(self, environ: dict) -> Route | None:
        """The request as this path answers it, or None for Django."""
        method = environ.get("REQUEST_METHOD")
        if method == "GET":
            found = SIMILAR_PATH.fullmatch(environ.get("PATH_INFO", ""))
            query = K_QUERY.fullmatch(environ.get("QUERY_STRING", "")) if found else None
            route = Route("similar", int(found.group(1)), query.group(1)) if query else None
        elif method == "POST" and environ.get("PATH_INFO") == RECOMMEND_PATH:
            route = Route("recommend")
        else:
            return None
        if not self._plain(environ):
            return None
        if route is not None and route.kind == "recommend":
            length = environ.get("CONTENT_LENGTH") or ""
            limit = min(MAX_BODY, settings.DATA_UPLOAD_MAX_MEMORY_SIZE or MAX_BODY)
            if not CONTENT_LENGTH.fullmatch(length) or int(length) > limit:
                return None
            body = environ["wsgi.input"].read(int(length))
            environ["wsgi.input"] = io.BytesIO(body)  # for Django, should it answer after all
            route = Route("recommend", body=body)
        return route

    @staticmethod
    def _plain(environ: dict) -> bool:
        if any(environ.get(name) for name in REFUSED_KEYS) or settings.DISALLOWED_USER_AGENTS:
            return False
        origin = environ.get("HTTP_ORIGIN")
        return origin is None or PLAIN_ORIGIN.fullmatch(origin) is not None

    @staticmethod
    def _answer(route: Route) -> bytes | None:
        """The body Django's view would send, from memory; None when anything stands in the way."""
        try:
            with recommendations.memory_only():
                if route.kind == "similar":
                    answer = answers.similar_books(route.book_id, route.k)
                else:
                    answer = answers.recommend(route.body)
            return answers.encode(answer)
        except Exception:  # bad input, unknown ids, not in memory, no version...: Django answers, with its message
            return None

    def _may_learn(self, key: tuple) -> bool:
        if self._failures.get(key, 0) >= MAX_FAILURES:
            return False
        return key in self._pending or len(self._pending) + len(self._templates) < MAX_SHAPES

    def _follow(self, version: str) -> None:
        """Forget what was learned when the served version (or its fold-in overlay) changes."""
        if version != self._version:
            with self._lock:
                if version != self._version:
                    self._version = version
                    self._templates, self._pending, self._failures = {}, {}, {}

    def _learn(
        self, environ: dict, start_response: Callable, key: tuple, version: str, expected: bytes, origin: str | None
    ) -> list[bytes]:
        """Let Django answer, and keep its headers once two answers of this shape agree with this path's bodies."""
        status, headers, body = whole_answer(self.app, environ, start_response)
        usable = (
            status.startswith("200 ")
            and body == expected
            and not sets_cookie(headers)
            and not (origin and any(origin in value for _, value in headers))  # an echoed origin: per origin
        )
        with self._lock:
            if version != self._version:
                return [body]
            template = Template.of(status, headers)
            if usable and self._pending.get(key) == template:
                self._templates[key] = template
                del self._pending[key]
                logger.info("fast path: Django's headers for %s learned (version %s)", key[:2], version)
                return [body]
            if usable and key not in self._pending:
                self._pending[key] = template
                return [body]
            self._failures[key] = self._failures.get(key, 0) + 1
            if usable:
                self._pending[key] = template  # two answers disagreed: wait for two that agree
        return [body]
