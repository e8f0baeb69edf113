"""Recommendation answers are cached per model version, in process and in the shared cache."""

import time

import pytest
from django.core.cache import cache

from recommender.api import caching
from recommender.catalogue import snapshot
from recommender.catalogue.models import Book


def test_local_lru_is_bounded_and_expires():
    lru = caching.LocalLRU(max_entries=2, timeout=0.2)
    lru.set("a", b"1")
    lru.set("b", b"2")
    assert lru.get("a") == b"1"  # 'a' is now the most recent
    lru.set("c", b"3")
    assert lru.get("b") is None and lru.get("a") == b"1" and lru.get("c") == b"3"
    time.sleep(0.25)
    assert lru.get("a") is None


@pytest.mark.django_db
def test_views_keep_answers_in_the_shared_cache_under_the_version(client, trained_catalogue):
    book = Book.objects.get(title="Space Cadet")
    url = f"/api/books/{book.id}/similar/?k=3"
    first = client.get(url).json()
    key = f"api:{trained_catalogue.version_id}:{url}"
    assert cache.get(key) is not None
    # the stored answer is what is served: a title change shows once the version (or the timeout) changes
    Book.objects.filter(pk=first["results"][0]["id"]).update(title="Renamed")
    assert client.get(url).json() == first
    cache.delete(key)
    snapshot.holder.forget()  # what its age does for an edit made by another process
    assert client.get(url).json()["results"][0]["title"] == "Renamed"
    assert client.get(f"/api/books/{book.id}/similar/?k=0").status_code == 400
    assert cache.get(f"api:{trained_catalogue.version_id}:/api/books/{book.id}/similar/?k=0") is None
