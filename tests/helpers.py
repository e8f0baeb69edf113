"""Helpers shared by the tests: where the real data is, its counts, waiting, small synthetic training data.

Test modules import from here (never from each other or from conftest, which holds only fixtures).
"""

import csv
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from django.db import connection

from embeddings.dataset import TrainingData

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))
WIKIPEDIA = SHARED_DATA / "wikipedia"
GOODBOOKS = SHARED_DATA / "goodbooks"

# Counts of the shared Wikipedia sample after cleaning (both partitions).
SAMPLE_BOOKS = 1780
SAMPLE_LINKS = 38936
SAMPLE_PAIRS = 63773


def test_database_url() -> str:
    """A URL for the test database, for processes the test starts (workers, servers)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


test_database_url.__test__ = False  # not a test, despite the name


def forget_cached_answers(version_id: str) -> None:
    """Drop the shared cache's answers of one version (keys hold its id), leaving the broker's keys in Redis, and
    this process's catalogue snapshot (tests replace whole tables without the signals that would drop it)."""
    from django.core.cache import cache

    from recommender.api import caching
    from recommender.catalogue.snapshot import holder

    caching.local.clear()
    holder.forget()
    client = getattr(getattr(cache, "_cache", None), "get_client", None)
    if client is None:  # the local-memory cache of the no-services setup
        cache.clear()
        return
    redis = client(write=True)
    for key in redis.scan_iter(match=f"*{version_id}*"):
        redis.delete(key)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def clustered_data(n_per: int = 20, links_per: int = 15, seed: int = 0) -> TrainingData:
    """Two groups of books, each linking mostly to its own links; genre and author follow the group, the first
    group is four series of five books."""
    rng = np.random.default_rng(seed)
    pairs = []
    for book in range(2 * n_per):
        group = book // n_per
        own = rng.choice(links_per, size=8, replace=False) + group * links_per
        pairs += [(book, link) for link in own]
        pairs.append((book, 2 * links_per + rng.integers(0, 3)))  # a few shared links
    pairs = np.unique(np.array(pairs, dtype=np.int32), axis=0)
    n_books, n_links = 2 * n_per, 2 * links_per + 3
    return TrainingData(
        book_ids=np.arange(100, 100 + n_books, dtype=np.int64),
        link_ids=np.arange(n_links, dtype=np.int64),
        pairs=pairs,
        book_genres=[frozenset({"fantasy"}) if b < n_per else frozenset({"crime", "drama"}) for b in range(n_books)],
        book_authors=np.array(["a" if b < n_per else ("" if b % 2 else "b") for b in range(n_books)], dtype=object),
        book_series=np.array([f"s{b // 5}" if b < n_per else "" for b in range(n_books)], dtype=object),
    )


# Small and quick: tests of serving need a real trained version, not a good one.
# No map either (UMAP costs more than such a training): the shared trained_catalogue draws one (MAPPED_PARAMS).
FAST_PARAMS = {"epochs": 6, "dim": 16, "batch_positives": 1024, "seed": 3, "draw_map": False}
MAPPED_PARAMS = {**FAST_PARAMS, "draw_map": True}


def on_own_connection(work: Callable, *args) -> object:
    """work(*args) in a thread with its own database connection: committed at once, outside the test's transaction."""
    import threading

    from django.db import connections

    outcome: dict = {}

    def target() -> None:
        try:
            outcome["value"] = work(*args)
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def goodbooks_subset(folder: Path, n_books: int) -> Path:
    """The first n_books of goodbooks' books.csv with their rows of book_tags.csv (and all of tags.csv), in the
    same format: for tests of what an import does, not of the real files' counts, a fraction of the 10,000 books."""
    folder.mkdir()
    kept: set[str] = set()

    def copy_rows(name: str, column: str, keep: Callable[[str], bool]) -> None:
        with open(GOODBOOKS / name, newline="") as source, open(folder / name, "w", newline="") as out:
            rows, writer = csv.reader(source), csv.writer(out)
            header = next(rows)
            writer.writerow(header)
            at = header.index(column)
            writer.writerows(row for row in rows if keep(row[at]))

    def first_books(goodreads_id: str) -> bool:
        if len(kept) == n_books:
            return False
        kept.add(goodreads_id)
        return True

    copy_rows("books.csv", "goodreads_book_id", first_books)
    copy_rows("book_tags.csv", "goodreads_book_id", kept.__contains__)
    shutil.copyfile(GOODBOOKS / "tags.csv", folder / "tags.csv")
    return folder
