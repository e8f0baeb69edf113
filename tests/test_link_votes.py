"""The served link score (embeddings/link_votes.py): the embedding's cosine plus the votes of each book's TF-IDF
neighbours; `books_for_link` serves exactly the ranking evaluation scores as "served"."""

import numpy as np
import pytest
from django.conf import settings

from embeddings.evaluation import TfidfScorer
from embeddings.hybrid import ServedScorer, tfidf_matrix
from embeddings.link_votes import VOTES_FILE, LinkVotes, neighbour_matrix
from embeddings.serving import get_active


def _random_catalogue(seed: int, n_books: int = 60, n_links: int = 45, dim: int = 8):
    rng = np.random.default_rng(seed)
    pairs = np.unique(np.stack([rng.integers(0, n_books, 400), rng.integers(0, n_links, 400)], axis=1), axis=0)
    books = rng.normal(size=(n_books, dim)).astype(np.float32)
    links = rng.normal(size=(n_links, dim)).astype(np.float32)
    books /= np.linalg.norm(books, axis=1, keepdims=True)
    links /= np.linalg.norm(links, axis=1, keepdims=True)
    return pairs, books, links


def _brute_votes(pairs: np.ndarray, n_books: int, n_links: int, neighbours: int) -> np.ndarray:
    """The formula written out: each book's `neighbours` best other books by TF-IDF cosine vote with their cosine."""
    tfidf = tfidf_matrix(pairs, n_books, n_links).toarray()
    usage = np.zeros((n_books, n_links))
    usage[pairs[:, 0], pairs[:, 1]] = 1.0
    sims = tfidf @ tfidf.T
    out = np.zeros((n_books, n_links))
    for b in range(n_books):
        order = sorted((o for o in range(n_books) if o != b and sims[b, o] > 0), key=lambda o: (-sims[b, o], o))
        for o in order[:neighbours]:
            out[b] += sims[b, o] * usage[o]
    return out


def test_neighbours_are_the_best_other_books_by_tfidf_cosine_ties_to_the_lower_row():
    # Books 1, 2 and 3 share book 0's one link alike (a tie); book 4 shares nothing with it.
    pairs = np.array([[0, 0], [1, 0], [2, 0], [3, 0], [1, 1], [2, 1], [3, 1], [4, 2]])
    matrix = neighbour_matrix(tfidf_matrix(pairs, 5, 3), neighbours=2).toarray()
    assert matrix[0, 0] == 0 and matrix[0, 4] == 0  # never itself, never a book with nothing in common
    assert np.flatnonzero(matrix[0]).tolist() == [1, 2]  # the tie with 3 goes to the lower rows
    assert np.allclose(matrix[1, [2, 3]], 1.0) and matrix[1, 0] == 0  # only the 2 best: 0 shares one link of two
    assert (matrix[4] == 0).all()


def test_votes_follow_the_formula_and_the_tfidf_baseline_is_them():
    pairs, _, _ = _random_catalogue(3)
    expected = _brute_votes(pairs, 60, 45, neighbours=5)
    votes = LinkVotes.build(tfidf_matrix(pairs, 60, 45), count=5)
    rows = np.arange(60)
    assert np.allclose(votes.vote_terms(rows) * expected.max(axis=1, keepdims=True).clip(1e-12), expected, atol=1e-5)
    assert np.allclose(votes.best, expected.max(axis=1), atol=1e-5)
    assert np.allclose(TfidfScorer(pairs, 60, 45, neighbours=5).link_scores(rows), expected, atol=1e-5)


@pytest.mark.parametrize(("n_books", "n_links", "k"), [(60, 45, 5), (300, 30, 1), (300, 30, 10), (300, 30, 40)])
def test_books_for_a_link_are_the_exact_top_of_the_served_score_over_every_book(n_books, n_links, k):
    # 300 books over 30 links: every link has many voters, most of which the first set's bar leaves unscored
    pairs, books, links = _random_catalogue(7, n_books, n_links)
    votes = LinkVotes.build(tfidf_matrix(pairs, n_books, n_links))
    full = votes.link_scores(np.arange(n_books), books @ links.T)  # every book's score for every link, as evaluated
    hidden = np.array([4, 9])
    changed = 0
    for link in range(n_links):
        cosines = books @ links[link]
        cosines[hidden] = -np.inf
        nearest = np.argsort(-cosines, kind="stable")[:k]  # what the index hands over: the k nearest by cosine
        served = votes.books_for_link(link, links[link], books, nearest, k, exclude_rows=hidden)
        column = full[:, link].astype(np.float64)
        column[hidden] = -np.inf
        expected = np.lexsort((np.arange(n_books), -column))[:k]
        assert [row for row, _ in served] == expected.tolist()
        assert np.allclose([score for _, score in served], column[expected] / 2.0, atol=1e-5)
        assert all(-1.0 <= score <= 1.0 for _, score in served)
        changed += set(expected.tolist()) != set(nearest.tolist())
    assert changed > 0  # the votes reorder some links' books, not only their scores


def test_a_link_nobody_uses_gets_its_nearest_books_by_cosine():
    pairs, books, links = _random_catalogue(11)
    unused = 44
    pairs = pairs[pairs[:, 1] != unused]
    votes = LinkVotes.build(tfidf_matrix(pairs, 60, 45))
    nearest = np.argsort(-(books @ links[unused]), kind="stable")[:4]
    served = votes.books_for_link(unused, links[unused], books, nearest, 4)
    assert [row for row, _ in served] == nearest.tolist()


def test_saved_votes_open_as_built_and_a_mismatched_file_is_refused(tmp_path):
    pairs, _, _ = _random_catalogue(5)
    tfidf = tfidf_matrix(pairs, 60, 45)
    assert LinkVotes.open(tmp_path, tfidf.T.tocsr()) is None  # a version from before the file: cosine alone
    built = LinkVotes.build(tfidf)
    built.save(tmp_path)
    opened = LinkVotes.open(tmp_path, tfidf.T.tocsr())
    rows = np.arange(60)
    assert np.array_equal(opened.best, built.best)
    assert np.allclose(opened.vote_terms(rows), built.vote_terms(rows))
    for link in range(45):  # the served side: one link's voters from the stored transpose
        assert [a.tolist() for a in opened.votes_for_link(link)] == [a.tolist() for a in built.votes_for_link(link)]
    with pytest.raises(ValueError, match=VOTES_FILE):
        LinkVotes.open(tmp_path, tfidf_matrix(pairs[pairs[:, 0] < 50], 50, 45).T.tocsr())


@pytest.mark.django_db
def test_served_books_for_a_link_are_the_ranking_evaluation_scores(trained_catalogue):
    version = get_active(settings.ARTIFACTS_DIR)
    assert version is not None and version.link_votes() is not None
    books, links = version.books, version.links
    scorer = ServedScorer(version.blend, links.vectors, LinkVotes.build(version.blend.tfidf))  # as evaluate() builds it
    scores = scorer.link_scores(np.arange(len(books)))  # books x links
    differs_from_embedding = 0
    for link_row in range(0, len(links), max(1, len(links) // 25)):
        link_id = links.id_of_row(link_row)
        expected = np.lexsort((np.arange(len(books)), -scores[:, link_row].astype(np.float64)))[:10]
        served = [book for book, _ in version.books_for_link(link_id, 10)]
        assert served == [books.id_of_row(int(r)) for r in expected]
        by_cosine = [books.id_of_row(r) for r, _ in books.nearest_to_vector(links.vector(link_row), 10)]
        differs_from_embedding += served != by_cosine
    assert differs_from_embedding > 0  # the votes are in effect
