"""The served `similar` ranking (embedding + TF-IDF blend) is the very function evaluation scores as "served"."""

import io
import json

import numpy as np
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from embeddings.book_groups import BookGroups
from embeddings.evaluation import TfidfScorer, nearest_books
from embeddings.fold_in import FoldInModel
from embeddings.hybrid import Blend, ServedScorer, tfidf_matrix
from embeddings.serving import get_active
from recommender import recommendations
from recommender.catalogue.models import Book


def test_tfidf_matrix_is_the_baselines_tfidf():
    rng = np.random.default_rng(0)
    pairs = np.unique(np.stack([rng.integers(0, 30, 300), rng.integers(0, 40, 300)], axis=1), axis=0)
    ours = tfidf_matrix(pairs, 30, 40).toarray()
    baseline = TfidfScorer(pairs, 30, 40).tfidf.toarray()
    assert np.allclose(ours, baseline, atol=1e-6)


def test_blend_lifts_a_book_sharing_rare_links_above_embedding_neighbours():
    # Book 0 and book 3 share two rare links; the embedding puts 1 and 2 nearer to 0 than 3.
    pairs = np.array([[0, 0], [0, 1], [0, 5], [1, 5], [2, 5], [3, 0], [3, 1], [3, 5], [4, 6], [1, 6]])
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.98, 0.2], [0.8, 0.6], [0.0, 1.0]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    blend = Blend(vectors, tfidf_matrix(pairs, 5, 7), candidates=2)
    assert blend.nearest(0, 3)[0][0] == 3
    embedding_only = Blend(vectors, tfidf_matrix(pairs, 5, 7), tfidf_weight=0.0)
    assert [row for row, _ in embedding_only.nearest(0, 3)] == [1, 2, 3]
    scores = [score for _, score in blend.nearest(0, 4)]
    assert scores == sorted(scores, reverse=True) and 0 not in [row for row, _ in blend.nearest(0, 4)]


@pytest.mark.django_db
def test_served_similar_is_the_ranking_evaluation_scores(trained_catalogue):
    version = get_active(settings.ARTIFACTS_DIR)
    assert version is not None and version.blend is not None
    blend, books = version.blend, version.books
    scorer = ServedScorer(blend, np.zeros((1, books.dim), dtype=np.float32))
    rows = np.arange(0, len(books), 97)
    evaluated = nearest_books(scorer, rows, 10)  # what evaluate() measures as "served"
    differs_from_embedding = 0
    for row, expected in zip(rows, evaluated, strict=True):
        book_id = books.id_of_row(int(row))
        served = [book for book, _ in version.similar_books(book_id, 10)]
        assert served == [books.id_of_row(int(r)) for r in expected]
        embedding = [books.id_of_row(r) for r, _ in books.nearest_to_row(int(row), 10)]
        differs_from_embedding += served != embedding
    assert differs_from_embedding > 0  # the blend is in effect, not the embedding alone

    book = Book.objects.get(pk=books.id_of_row(int(rows[1])))
    api = [r.id for r in recommendations.similar_books(book.pk, 10)]
    assert api == [book_id for book_id, _ in version.similar_books(book.pk, 10)]


def _grouped_blend(**weights) -> Blend:
    # Book 0's nearest by embedding are 1, 2, 3 in that order; 4 is far. Book 3 shares 0's series, 4 its author.
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.97, 0.24], [0.9, 0.44], [0.3, 0.95], [0.0, 1.0]])
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    pairs = np.array([[0, 0], [1, 0], [2, 0], [3, 1], [4, 2], [5, 2]])
    groups = BookGroups.from_labels(
        np.array(["ann lee", "", "various", "", "ann lee", "various"], dtype=object),
        np.array(["saga", "", "", "saga", "", ""], dtype=object),
        6,
    )
    return Blend(vectors, tfidf_matrix(pairs, 6, 3), candidates=1, groups=groups, **weights)


def test_the_query_series_comes_first_then_its_author_among_the_blend():
    blend = _grouped_blend()
    ranked = blend.nearest(0, 5)
    # 3 (same series) and 4 (same author) are candidates although neither signal finds them among its 1 best.
    assert [row for row, _ in ranked][:2] == [3, 1]
    assert 4 in [row for row, _ in ranked]
    assert all(0.0 <= score <= 1.0 for _, score in ranked)
    plain = Blend(blend.vectors, blend.tfidf, candidates=1)
    assert [row for row, _ in plain.nearest(0, 2)] == [1, 2]
    # With a heavier author term the author's book overtakes the embedding's neighbours too.
    assert [row for row, _ in _grouped_blend(author_weight=1.0).nearest(0, 2)] == [3, 4]


def test_placeholder_authors_group_nobody():
    blend = _grouped_blend(author_weight=1.0)
    assert blend.groups.members(2).size == 0  # "various" is not an author
    assert [row for row, _ in blend.nearest(2, 1)] != [5]
    assert BookGroups.from_labels(None, None, 3).members(0).size == 0  # a source without series or authors


def test_a_version_keeps_its_groups_and_serves_them(trained_catalogue):
    version = get_active(settings.ARTIFACTS_DIR)
    groups = version.blend.groups
    assert groups is not None and len(groups.series_codes) == len(version.books)
    reopened = BookGroups.open(version.folder)
    assert list(reopened.series_names) == list(groups.series_names)
    # a book of a series of two or more is served its series first
    codes, counts = np.unique(groups.series_codes[groups.series_codes >= 0], return_counts=True)
    code = codes[np.argmax(counts >= 2)]
    row = int(np.flatnonzero(groups.series_codes == code)[0])
    siblings = {version.books.id_of_row(int(r)) for r in np.flatnonzero(groups.series_codes == code) if r != row}
    served = [book for book, _ in version.similar_books(version.books.id_of_row(row), len(siblings))]
    assert set(served) == siblings


def test_a_version_keeps_the_links_it_dropped_as_rare_for_fold_in(trained_catalogue):
    version = get_active(settings.ARTIFACTS_DIR)
    rare = FoldInModel.open(version.folder).rare_links
    assert rare is not None and len(rare.link_ids) > 0
    link_ids = np.load(version.folder / "link_ids.npy")
    assert not np.isin(rare.link_ids, link_ids).any()  # none of them has a vector
    min_count = json.loads((version.folder / "params.json").read_text())["min_link_count"]
    assert np.diff(rare.starts).max() < min_count  # each used by too few of the version's books
    assert rare.book_rows.min() >= 0 and rare.book_rows.max() < len(version.books)


@pytest.mark.django_db
def test_similar_command_serves_the_series_and_the_author(trained_catalogue):
    # The shared small model of the tests: the series and author terms carry the author's books even there
    # (the defaults' quality on full data is benchmarks/train_quality.py's).
    for title, author in [("The Chinese Gold Murders", "Robert van Gulik"), ("The Change (novel)", "K. A. Applegate")]:
        out = io.StringIO()
        call_command("similar", title, "--k", "10", "--json", stdout=out)
        results = json.loads(out.getvalue())
        assert len(results) == 10 and title not in [r["title"] for r in results]
        same_author = sum(r["author"] == author for r in results)
        assert same_author >= 5, (title, [(r["title"], r["author"]) for r in results])
    with pytest.raises(CommandError, match="did you mean: The Chinese Gold Murders"):
        call_command("similar", "The Chinese Gold Murder")
