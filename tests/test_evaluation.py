"""Evaluation: split, metrics in [0, 1] for the embedding and both baselines, table."""

import numpy as np

from embeddings.evaluation import METRIC_NAMES, evaluate, format_metrics_table, holdout_split
from tests.helpers import clustered_data


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
