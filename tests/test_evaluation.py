"""Evaluation: split, metrics in [0, 1] for the embedding and both baselines, table."""

import numpy as np

from embeddings.dataset import TrainingData
from embeddings.evaluation import METRIC_NAMES, evaluate, format_metrics_table, holdout_split


def clustered_data(n_per: int = 20, links_per: int = 15, seed: int = 0) -> TrainingData:
    """Two groups of books, each linking mostly to its own links; genre and author follow the group."""
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
    )


def test_holdout_split_is_seeded_and_keeps_every_book():
    data = clustered_data()
    split = holdout_split(data.pairs, data.n_books, seed=1)
    again = holdout_split(data.pairs, data.n_books, seed=1)
    assert np.array_equal(split.heldout_pairs, again.heldout_pairs)
    assert len(split.train_pairs) + len(split.heldout_pairs) == len(data.pairs)
    per_book = np.bincount(split.heldout_pairs[:, 0], minlength=data.n_books)
    assert (per_book == 1).all()  # 9 links each: round(0.9) = 1
    assert np.unique(split.train_pairs[:, 0]).size == data.n_books


def test_metrics_in_unit_interval_and_baselines_present():
    data = clustered_data()
    split = holdout_split(data.pairs, data.n_books, seed=0)
    rng = np.random.default_rng(0)
    metrics = evaluate(data, split, rng.normal(size=(data.n_books, 8)), rng.normal(size=(data.n_links, 8)))
    for method in ("embedding", "tfidf", "popularity"):
        for name in METRIC_NAMES:
            assert 0.0 <= metrics[method][name] <= 1.0, (method, name)
    # TF-IDF sees the clusters perfectly; random vectors and popularity do not.
    assert metrics["tfidf"]["genre_precision@10"] > 0.95
    assert metrics["tfidf"]["author_recall@10"] > 0.4
    assert metrics["tfidf"]["link_auc"] > 0.8
    table = format_metrics_table(metrics)
    assert "tfidf" in table and "genre_precision@10" in table


def test_perfect_vectors_score_perfectly_on_books():
    data = clustered_data()
    split = holdout_split(data.pairs, data.n_books, seed=0)
    group = (np.arange(data.n_books) >= 20).astype(float)
    books = np.stack([1 - group, group], axis=1) + 1e-3 * np.random.default_rng(0).normal(size=(data.n_books, 2))
    links = np.zeros((data.n_links, 2))
    links[:15, 0], links[15:30, 1], links[30:] = 1, 1, 0.7
    metrics = evaluate(data, split, books, links)
    assert metrics["embedding"]["genre_precision@10"] == 1.0
    assert metrics["embedding"]["link_auc"] > 0.8  # shared links tie with the other group
