"""Series: derived from Goodreads titles and Wikipedia infoboxes at import, and the series metric."""

import numpy as np
import pytest

from embeddings.dataset import TrainingData
from embeddings.evaluation import EmbeddingScorer, book_metrics
from recommender.catalogue.models import Book
from recommender.catalogue.series import assign_series, series_from_title, series_key


def test_series_from_goodreads_titles():
    assert series_from_title("The Hunger Games (The Hunger Games, #1)") == "hunger games"
    assert series_from_title("Mockingjay (The Hunger Games, #3)") == "hunger games"
    assert series_from_title("Harry Potter Boxed Set (Harry Potter, #1-7)") == "harry potter"
    assert series_from_title("Twilight (Twilight, #1) (Stephenie Meyer)") == "twilight"  # a title made unique
    assert series_from_title("The Great Gatsby") == ""
    assert series_from_title("#GIRLBOSS") == ""


def test_series_names_compare_in_a_normal_form():
    assert series_key("The Extraordinary Voyages #21") == "extraordinary voyages"
    assert series_key("[[Albert Campion]]") == "albert campion"
    assert series_key("Discworld, Book 3") == "discworld"
    assert series_key("Tarzan series") == "tarzan"
    assert series_key("") == "" and series_key(None) == ""


def test_assign_series_on_a_hand_made_catalogue():
    books = [
        (1, "Hawk of May", {"series": "Down the Long Wind", "followed_by": "[[Kingdom of Summer]]"}),
        (2, "Kingdom of Summer", {"preceded_by": "Hawk of May", "followed_by": "In Winter's Shadow"}),  # no series
        (3, "In Winter's Shadow", {"preceded_by": "[[Kingdom of Summer]]"}),
        (4, "The Change (novel)", {"followed_by": "The Unknown (novel)"}),  # a chain that names no series
        (5, "The Unknown (novel)", {"preceded_by": "The Change"}),  # linked to without the "(novel)"
        (6, "Mockingjay (The Hunger Games, #3)", {}),
        (7, "Catching Fire (The Hunger Games, #2)", {}),
        (8, "Standalone", {"followed_by": "A book not in the catalogue"}),
    ]
    series = assign_series(books)
    assert series[1] == series[2] == series[3] == "down the long wind"
    assert series[4] == series[5] != ""
    assert series[6] == series[7] == "hunger games"
    assert series[8] == ""


def _data(series: list[str]) -> TrainingData:
    n = len(series)
    return TrainingData(
        book_ids=np.arange(n, dtype=np.int64),
        link_ids=np.arange(2, dtype=np.int64),
        pairs=np.array([[b, b % 2] for b in range(n)], dtype=np.int32),
        book_genres=[frozenset()] * n,
        book_authors=np.array([""] * n, dtype=object),
        book_series=np.array(series, dtype=object),
    )


def test_series_recall_on_a_hand_made_catalogue():
    # 14 books: series "a" (3 books), "b" (2 books), one book alone in "c", 8 without a series.
    series = ["a", "a", "a", "b", "b", "c"] + [""] * 8
    data = _data(series)
    # Vectors on a circle: books 0, 1 and 3 close together, 2 and 4 far away, so among the 10 nearest of each
    # query (all 13 others but the 3 farthest) the series-mates found are exactly computable.
    angles = np.array([0.0, 0.1, 3.0, 0.2, 3.1, 1.0, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1, 2.2])
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    scorer = EmbeddingScorer(vectors, np.eye(2))
    got = book_metrics(scorer, data, max_queries=None, seed=0)["series_recall@10"]
    order = np.argsort(-(vectors @ vectors.T), axis=1)
    expected = []
    for query in range(5):  # books of a series with >= 2 books; "c" has one book and is no query
        nearest = [b for b in order[query] if b != query][:10]
        mates = [b for b in range(14) if b != query and series[b] == series[query]]
        expected.append(len(set(nearest) & set(mates)) / len(mates))
    assert got == pytest.approx(np.mean(expected))
    assert 0.0 < got < 1.0

    perfect = np.eye(14)[[0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]] + 1e-3 * np.eye(14)
    assert book_metrics(EmbeddingScorer(perfect, np.eye(14)[:2]), data, None, 0)["series_recall@10"] == 1.0


def test_series_recall_is_null_without_series():
    data = _data([""] * 6)
    vectors = np.random.default_rng(0).normal(size=(6, 3))
    assert book_metrics(EmbeddingScorer(vectors, vectors[:2]), data, None, 0)["series_recall@10"] is None


@pytest.mark.django_db
def test_import_fills_series_from_the_infoboxes(sample_catalogue):
    by_title = dict(Book.objects.values_list("title", "series"))
    assert by_title["Hawk of May"] == by_title["Kingdom of Summer"] == "down the long wind"
    assert by_title["Eight Hundred Leagues on the Amazon"] == "extraordinary voyages"
    assert sum(1 for s in by_title.values() if s) > 300
