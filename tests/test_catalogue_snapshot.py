"""Uncached answers from the in-memory catalogue snapshot: the same answers as the database gives, without its trips."""

import dataclasses
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from embeddings.serving import get_active
from recommender import recommendations
from recommender.catalogue.models import Book, BookLink, Link
from recommender.catalogue.snapshot import holder

pytestmark = pytest.mark.django_db


@pytest.fixture
def built(trained_catalogue, settings):
    settings.ANSWER_CACHE_SECONDS = 0  # every API answer computed
    holder.forget()
    snapshot = holder.wait_until_built(get_active(settings.ARTIFACTS_DIR))
    assert snapshot is not None, "the snapshot was not built"
    yield snapshot
    holder.forget()


def answers(book_ids: list[int], link_ids: list[int]) -> list:
    return [
        *[recommendations.similar_books(i, 10) for i in book_ids],
        recommendations.recommend(book_ids[:3], book_ids[3:5], 10),
        recommendations.recommend([], book_ids[:2], 5),
        *[recommendations.books_for_link(i, 10) for i in link_ids],
        *[recommendations.similar_links(i, 10) for i in link_ids],
    ]


def test_the_snapshot_answers_as_the_database_does_without_a_query(built, settings):
    version = get_active(settings.ARTIFACTS_DIR)
    book_ids = [version.books.id_of_row(row) for row in range(0, len(version.books), 150)]
    link_ids = [version.links.id_of_row(row) for row in range(0, len(version.links), 400)]
    with CaptureQueriesContext(connection) as queries:
        from_memory = answers(book_ids, link_ids)
    assert len(queries) == 0, [q["sql"] for q in queries]
    assert sum(len(r.shared_links) for r in from_memory[0]) > 0  # explanations come from the snapshot too

    settings.CATALOGUE_SNAPSHOT_SECONDS = 0  # the database path
    with CaptureQueriesContext(connection) as queries:
        from_database = answers(book_ids, link_ids)
    assert len(queries) > 0
    assert from_memory == from_database


def test_uncached_api_answers_need_no_query(built, client):
    book = Book.objects.get(title="Watership Down")
    link = Link.objects.filter(book_count__gte=3).order_by("-book_count").first()
    liked = list(Book.objects.filter(has_links=True).order_by("pk").values_list("pk", flat=True)[:3])
    with CaptureQueriesContext(connection) as queries:
        similar = client.get(f"/api/books/{book.pk}/similar/?k=7")
        for_link = client.get(f"/api/links/{link.pk}/books/?k=7")
        recommended = client.post("/api/recommend/", json.dumps({"liked": liked}), content_type="application/json")
    assert len(queries) == 0, [q["sql"] for q in queries]
    unknown = client.get("/api/books/999999/similar/")  # may be a book added since: the database says
    assert similar.status_code == for_link.status_code == recommended.status_code == 200
    assert similar.json()["book"]["title"] == "Watership Down" and len(similar.json()["results"]) == 7
    assert len(recommended.json()["results"]) == 10
    assert unknown.status_code == 404 and "no book with id 999999" in unknown.json()["error"]


def test_an_edit_in_this_process_is_answered_at_once(built):
    book = Book.objects.get(title="Watership Down")
    neighbour = Book.objects.get(pk=recommendations.similar_books(book.pk, 1)[0].id)
    neighbour.title = "Renamed in the admin"
    neighbour.save()
    assert holder._snapshot is None  # the signal dropped it: the database answers until the next one is built
    assert recommendations.similar_books(book.pk, 1)[0].title == "Renamed in the admin"


def test_books_missing_from_the_snapshot_are_read_from_the_database(built):
    book = Book.objects.get(title="Watership Down")
    link = book.links.first()
    ids = built.book_ids.copy()  # as if the book were added after the snapshot was built
    at = int(ids.searchsorted(book.pk))
    ids[at] = ids[at - 1] if at else ids[at] - 1
    holder._snapshot = dataclasses.replace(built, book_ids=ids)
    assert not holder._snapshot.has_books([book.pk])
    described = recommendations.book_dict(book.pk)
    assert described == book.to_dict()
    results = recommendations.similar_books(book.pk, 10)
    explained = {name for r in results for _, name in r.shared_links}
    anchor = set(BookLink.objects.filter(book=book).values_list("link__name", flat=True))
    assert explained and explained <= anchor
    assert link is not None


def test_off_means_never_built(trained_catalogue, settings):
    settings.CATALOGUE_SNAPSHOT_SECONDS = 0
    holder.forget()
    assert holder.get(get_active(settings.ARTIFACTS_DIR)) is None
    assert holder.wait_until_built(get_active(settings.ARTIFACTS_DIR), timeout=0.3) is None
