"""Batch sampler: negatives are never real pairs, ratios and labels per mode, seeds reproduce."""

import numpy as np
import pandas as pd
import pytest

from embeddings.batches import BatchSampler, PairSet
from embeddings.dataset import build_training_data, default_min_link_count
from embeddings.labels import normalise_genres


def random_pairs(n_books: int = 60, n_links: int = 40, n: int = 600, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pairs = np.stack([rng.integers(0, n_books, n), rng.integers(0, n_links, n)], axis=1)
    return np.unique(pairs, axis=0).astype(np.int32)


def test_pair_set_membership():
    pairs = random_pairs()
    known = PairSet(pairs, 40)
    assert known.contains(pairs[:, 0], pairs[:, 1]).all()
    grid = np.array([(b, link) for b in range(60) for link in range(40)])
    inside = known.contains(grid[:, 0], grid[:, 1])
    assert inside.sum() == len(pairs)


@pytest.mark.parametrize("mode,negative", [("classification", 0.0), ("regression", -1.0)])
@pytest.mark.parametrize("sampling", ["uniform", "popularity"])
def test_negatives_are_not_pairs_and_ratio_and_labels(mode, negative, sampling):
    pairs = random_pairs()
    sampler = BatchSampler(
        pairs, 60, 40, n_positive=64, negative_ratio=2, mode=mode, seed=3, negative_sampling=sampling
    )
    known = PairSet(pairs, 40)
    positives_seen = 0
    for batch in sampler.epoch():
        is_pair = known.contains(batch.books, batch.links)
        assert set(np.unique(batch.labels)) <= {1.0, negative}
        assert (is_pair == (batch.labels == 1.0)).all()  # positives are pairs, negatives never are
        n_pos = int((batch.labels == 1.0).sum())
        assert (batch.labels == negative).sum() == 2 * n_pos
        positives_seen += n_pos
        assert batch.books.dtype == np.int32 and batch.labels.dtype == np.float32
    assert positives_seen == len(pairs)  # one epoch visits every pair once
    single = sampler.batch()
    assert len(single) == 64 * 3 and (single.labels == 1.0).sum() == 64
    assert (known.contains(single.books, single.links) == (single.labels == 1.0)).all()


def test_same_seed_same_batches_other_seed_differs():
    pairs = random_pairs()
    a = BatchSampler(pairs, 60, 40, n_positive=50, seed=7).epoch_arrays()[0]
    b = BatchSampler(pairs, 60, 40, n_positive=50, seed=7).epoch_arrays()[0]
    c = BatchSampler(pairs, 60, 40, n_positive=50, seed=8).epoch_arrays()[0]
    assert np.array_equal(a.books, b.books) and np.array_equal(a.links, b.links)
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.books, c.books)


def test_popularity_negatives_favour_popular_links():
    pairs = np.array([(b, 0) for b in range(50)] + [(0, link) for link in range(1, 30)], dtype=np.int32)
    sampler = BatchSampler(pairs, 100, 30, n_positive=32, negative_ratio=4, seed=0, negative_sampling="popularity")
    arrays, _ = sampler.epoch_arrays()
    neg_links = arrays.links[arrays.labels == 0]
    # link 0 is used by 50 books, each other link by 1: weight 50**0.75 ~ 18.8 against 1
    assert (neg_links == 0).mean() > 0.15  # uniform would give 1/30; books 0-49 cannot draw link 0


def test_build_training_data_min_count_and_coding():
    books = pd.DataFrame(
        {
            "id": [10, 20, 30, 40],
            "title": list("abcd"),
            "author": ["X ", "x", "", None],
            "genre": ["Fantasy, Horror", "horror", "", None],
        }
    )
    pairs = pd.DataFrame({"book_id": [10, 10, 20, 20, 30, 40, 10], "link_id": [1, 2, 1, 3, 1, 9, 1]})
    data = build_training_data(books, pairs, min_link_count=2)
    assert data.link_ids.tolist() == [1]  # only link 1 is used by >= 2 books
    assert data.book_ids.tolist() == [10, 20, 30]  # book 40 has no kept link
    assert data.pairs.tolist() == [[0, 0], [1, 0], [2, 0]]  # duplicates dropped
    assert data.book_genres[0] == frozenset({"fantasy", "horror"}) and data.book_genres[2] == frozenset()
    assert data.book_authors.tolist() == ["x", "x", ""]
    assert normalise_genres("Crime / Mystery novel") == frozenset({"crime", "mystery novel"})
    assert default_min_link_count(1_780) == 2 and default_min_link_count(37_020) == 4


@pytest.mark.parametrize("sampling,power", [("power", 0.25), ("power", 1.0), ("idf", 0.0)])
def test_weighted_positives_favour_rare_links_and_stay_pairs(sampling, power):
    # link 0 is used by all 50 books, links 1..29 by book 0 alone
    pairs = np.array([(b, 0) for b in range(50)] + [(0, link) for link in range(1, 30)], dtype=np.int32)
    sampler = BatchSampler(pairs, 60, 40, n_positive=16, seed=1, positive_sampling=sampling, positive_power=power)
    known = PairSet(pairs, 40)
    arrays, _ = sampler.epoch_arrays()
    positive = arrays.labels == 1.0
    assert positive.sum() == len(pairs)  # an epoch holds as many positives as there are pairs
    assert known.contains(arrays.books, arrays.links)[positive].all()
    assert (~known.contains(arrays.books, arrays.links)[~positive]).all()
    weights = sampler.positive_weights
    assert np.isclose(weights.sum(), 1.0) and (weights > 0).all()
    assert weights[-1] > weights[0]  # a pair of a rare link outweighs one of the popular link
    # systematic draw: each pair appears floor or ceil of its expected count
    drawn = np.bincount(arrays.books[positive].astype(np.int64) * 40 + arrays.links[positive], minlength=60 * 40)
    expected = weights * len(pairs)
    counts = drawn[pairs[:, 0].astype(np.int64) * 40 + pairs[:, 1]]
    assert (counts >= np.floor(expected) - 1e-9).all() and (counts <= np.ceil(expected) + 1e-9).all()
    again = BatchSampler(pairs, 60, 40, n_positive=16, seed=1, positive_sampling=sampling, positive_power=power)
    assert np.array_equal(again.epoch_arrays()[0].links, arrays.links)  # seeded
    single = sampler.batch()
    assert (single.labels == 1.0).sum() == 16


def test_unknown_positive_sampling_rejected():
    with pytest.raises(ValueError):
        BatchSampler(random_pairs(), 60, 40, positive_sampling="nope")
