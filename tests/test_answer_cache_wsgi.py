"""The WSGI answer cache replays Django's whole answer (headers included) and stays per model version."""

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.test import RequestFactory

from recommender.api.caching import LocalAnswerCache, LocalLRU
from recommender.catalogue.models import Book

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("keep_test_connection")]


def call(app, path: str, **headers) -> tuple[str, dict, bytes]:
    environ = RequestFactory().get(path, HTTP_HOST="localhost", **headers).environ
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen.update(status=status, headers=dict(response_headers))

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], body


def test_replays_whole_answers_per_version_and_origin(trained_catalogue, settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    store = LocalLRU(100, 60)
    app = LocalAnswerCache(WSGIHandler(), store)
    book = Book.objects.get(title="Space Cadet")
    path = f"/api/books/{book.id}/similar/?k=4"
    status, headers, body = call(app, path)
    assert status.startswith("200") and headers["X-Frame-Options"] == "DENY"
    assert len(store._items) == 1
    Book.objects.filter(pk=book.pk).update(title="Changed")  # the replay does not reach Django
    assert call(app, path) == (status, headers, body)
    _, cors, _ = call(app, path, HTTP_ORIGIN="https://other.example")
    assert {k.lower(): v for k, v in cors.items()}["access-control-allow-origin"] == "*"
    assert len(store._items) == 2
    bad_status, _, _ = call(app, f"/api/books/{book.id}/similar/?k=0")
    assert bad_status.startswith("400") and len(store._items) == 2  # errors are never kept
    call(app, "/books/")
    assert len(store._items) == 2  # only the recommendation endpoints are cached


def test_off_when_cache_seconds_is_zero(trained_catalogue, settings):
    settings.ALLOWED_HOSTS = ["localhost"]
    settings.ANSWER_CACHE_SECONDS = 0
    store = LocalLRU(100, 60)
    book = Book.objects.get(title="Space Cadet")
    call(LocalAnswerCache(WSGIHandler(), store), f"/api/books/{book.id}/similar/")
    assert not store._items
