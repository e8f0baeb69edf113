"""The WSGI fast path answers plain `similar` and `recommend` requests byte for byte as Django does, from memory, and
leaves everything else to Django."""

import json

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from embeddings.serving import LoadedVersion, get_active
from recommender.api.fast_path import FastPath
from recommender.catalogue.models import Book
from recommender.catalogue.snapshot import holder

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keep_test_connection")]

ORIGIN = {"HTTP_ORIGIN": "https://other.example"}


class Counting:
    """Django, counting the requests that reach it."""

    def __init__(self) -> None:
        self.django = WSGIHandler()
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.django(environ, start_response)


@pytest.fixture
def apps(trained_catalogue, settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    settings.ANSWER_CACHE_SECONDS = 0  # Django computes every answer, as the fast path does
    holder.forget()
    assert holder.wait_until_built(get_active(settings.ARTIFACTS_DIR)) is not None
    django = Counting()
    yield django, FastPath(django)
    holder.forget()


def call(app, method: str, path: str, body: object = None, **headers) -> tuple[str, list, bytes]:
    factory = RequestFactory()
    headers = {"HTTP_HOST": "localhost", **headers}
    if method == "POST":
        data = body if isinstance(body, bytes | str) else json.dumps(body)
        request = factory.post(path, data, content_type="application/json", **headers)
    else:
        request = factory.generic(method, path, **headers)
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen.update(status=status, headers=list(response_headers))

    body = b"".join(app(request.environ, start_response))
    return seen["status"], seen["headers"], body


def book_ids(n: int) -> list[int]:
    return list(Book.objects.filter(has_links=True).order_by("pk").values_list("pk", flat=True)[:n])


def requests() -> list[tuple]:
    ids = book_ids(12)
    return [
        *[("GET", f"/api/books/{i}/similar/?k=7", None) for i in ids[:4]],
        ("GET", f"/api/books/{ids[4]}/similar/", None),
        ("GET", f"/api/books/{ids[5]}/similar/?k=60", None),  # wider than the table: computed live
        *[("POST", "/api/recommend/", {"liked": ids[i : i + 3], "k": 10}) for i in range(4)],
        ("POST", "/api/recommend/", {"liked": ids[8:10], "disliked": ids[10:12]}),
        ("POST", "/api/recommend/", {"disliked": ids[:2], "k": 5}),
    ]


@pytest.mark.parametrize("headers", [{}, ORIGIN], ids=["same-site", "cross-origin"])
def test_answers_are_djangos_bytes_without_django_or_the_database(apps, headers):
    django, fast = apps
    sent = requests()
    for method, path, body in sent[:2] + sent[6:8]:  # two answers of each kind: headers learned
        call(fast, method, path, body, **headers)
    assert django.calls == 4
    with CaptureQueriesContext(connection) as queries:
        answered = [call(fast, method, path, body, **headers) for method, path, body in sent]
    assert django.calls == 4 and len(queries) == 0, [q["sql"] for q in queries]
    expected = [call(django.django, method, path, body, **headers) for method, path, body in sent]
    assert answered == expected
    status, response_headers, _ = answered[0]
    named = {name.lower(): value for name, value in response_headers}
    assert status == "200 OK" and "content-security-policy" in named and named["x-frame-options"] == "DENY"
    assert ("access-control-allow-origin" in named) == bool(headers)


def learned(apps) -> tuple:
    django, fast = apps
    ids = book_ids(2)
    for _ in range(2):
        call(fast, "GET", f"/api/books/{ids[0]}/similar/?k=3")
        call(fast, "POST", "/api/recommend/", {"liked": ids})
    calls = django.calls
    call(fast, "GET", f"/api/books/{ids[1]}/similar/?k=3")
    call(fast, "POST", "/api/recommend/", {"liked": ids[:1]})
    assert django.calls == calls, "the fast path did not take over"
    return django, fast, ids


@pytest.mark.parametrize(
    "method, path, body, headers",
    [
        ("GET", "/api/books/{id}/similar/?k=0", None, {}),
        ("GET", "/api/books/{id}/similar/?k=101", None, {}),
        ("GET", "/api/books/{id}/similar/?k=ten", None, {}),
        ("GET", "/api/books/{id}/similar/?k=5&k=6", None, {}),
        ("GET", "/api/books/{id}/similar/?k=5&extra=1", None, {}),
        ("GET", "/api/books/99999999/similar/", None, {}),
        ("GET", "/api/books/0{id}/similar/", None, {}),
        ("HEAD", "/api/books/{id}/similar/", None, {}),
        ("GET", "/api/books/{id}/similar/", None, {"HTTP_COOKIE": "sessionid=abc"}),
        ("GET", "/api/books/{id}/similar/", None, {"HTTP_ORIGIN": "http://[::1"}),
        ("GET", "/api/books/{id}/", None, {}),
        ("GET", "/api/books/{id}/similar", None, {}),
        ("GET", "/api/links/1/similar/", None, {}),
        ("GET", "/api/recommend/", None, {}),
        ("POST", "/api/recommend/", b"", {}),
        ("POST", "/api/recommend/", b"{not json", {}),
        ("POST", "/api/recommend/", {"liked": []}, {}),
        ("POST", "/api/recommend/", {"liked": [99999999]}, {}),
        ("POST", "/api/recommend/", {"liked": ["{id}"], "disliked": ["{id}"]}, {}),
        ("POST", "/api/recommend/", {"liked": ["{id}"], "k": 0}, {}),
        ("POST", "/api/recommend/", {"liked": ["{id}"], "other": 1}, {}),
        ("POST", "/api/recommend/", {"liked": ["{id}"]}, {"HTTP_HOST": "evil.example"}),
    ],
)
def test_anything_else_is_djangos_answer(apps, method, path, body, headers):
    django, fast, ids = learned(apps)
    path = path.replace("{id}", str(ids[0]))
    if isinstance(body, dict):
        body = json.loads(json.dumps(body).replace('"{id}"', str(ids[0])))
    calls = django.calls
    answered = call(fast, method, path, body, **headers)
    assert django.calls == calls + 1, "the fast path answered"
    assert answered == call(django.django, method, path, body, **headers)


def test_a_book_missing_from_the_snapshot_is_djangos(apps, settings):
    django, fast, ids = learned(apps)
    calls = django.calls
    settings.CATALOGUE_SNAPSHOT_SECONDS = 0  # no snapshot: the database answers, through Django
    holder.forget()
    answered = call(fast, "GET", f"/api/books/{ids[0]}/similar/?k=4")
    assert django.calls == calls + 1 and answered[0] == "200 OK"
    assert answered == call(django.django, "GET", f"/api/books/{ids[0]}/similar/?k=4")


def test_a_new_version_is_learned_again_from_django(apps, monkeypatch):
    django, fast, ids = learned(apps)
    calls = django.calls
    monkeypatch.setattr(LoadedVersion, "cache_key", property(lambda self: self.version_id + ".fold-in"))
    call(fast, "GET", f"/api/books/{ids[0]}/similar/?k=3")
    assert django.calls == calls + 1  # what was learned for the old version is forgotten
    call(fast, "GET", f"/api/books/{ids[0]}/similar/?k=3")
    assert django.calls == calls + 2
    answered = call(fast, "GET", f"/api/books/{ids[1]}/similar/?k=3")
    assert django.calls == calls + 2 and answered == call(django.django, "GET", f"/api/books/{ids[1]}/similar/?k=3")


def test_headers_that_change_between_answers_are_never_replayed(apps, monkeypatch):
    django, fast = apps
    ids = book_ids(1)
    count = iter(range(1000))

    def stamped(environ, start_response):
        def stamp(status, headers, exc_info=None):
            return start_response(status, [*headers, ("X-Request-Number", str(next(count)))], exc_info)

        return django(environ, stamp)

    fast.app = stamped
    for _ in range(5):
        call(fast, "GET", f"/api/books/{ids[0]}/similar/?k=3")
    assert django.calls == 5 and not fast._templates
