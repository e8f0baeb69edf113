"""Tabled `similar` answers (embeddings/similar_table.py) are exactly the live ones, and used only where they are."""

import numpy as np
import pytest
from django.conf import settings

from embeddings import similar_table
from embeddings.hybrid import CANDIDATES
from embeddings.serving import get_active, require_active

pytestmark = pytest.mark.django_db


def live(version, book_id: int, k: int) -> list[tuple[int, float]]:
    """The answer computed as if the version had no table."""
    table, version.similar_table = version.similar_table, None
    try:
        return version.similar_books(book_id, k)
    finally:
        version.similar_table = table


def test_a_trained_version_tables_every_answer_as_served_live(trained_catalogue):
    version = get_active(settings.ARTIFACTS_DIR)
    table = version.similar_table
    assert table is not None and table.width == CANDIDATES
    assert table.rows.shape == (len(version.books), CANDIDATES) and (np.asarray(table.rows) >= 0).all()
    for row in range(0, len(version.books), 37):
        book_id = version.books.id_of_row(row)
        for k in (1, 10, CANDIDATES):
            tabled = version.similar_books(book_id, k)
            computed = live(version, book_id, k)
            assert [b for b, _ in tabled] == [b for b, _ in computed], (book_id, k)
            assert np.allclose([s for _, s in tabled], [s for _, s in computed], atol=1e-5)


def test_answers_beyond_the_table_are_computed(trained_catalogue, monkeypatch):
    version = require_active(settings.ARTIFACTS_DIR)
    book_id = version.books.id_of_row(5)
    assert version.similar_table.answer(5, CANDIDATES + 1) is None
    calls = []
    monkeypatch.setattr(version.blend, "nearest", lambda *args, **kw: calls.append(args) or [])
    version.similar_books(book_id, CANDIDATES + 1)
    version.similar_books(book_id, 10)
    assert len(calls) == 1  # only the answer wider than the table


def test_a_tiny_catalogue_tables_short_answers(tmp_path):
    from embeddings.hybrid import Blend, tfidf_matrix

    vectors = np.eye(4, dtype=np.float32)[[0, 0, 1, 1, 2]] + 0.01
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pairs = np.array([[0, 0], [1, 0], [2, 1], [3, 1], [4, 2]])
    blend = Blend(vectors, tfidf_matrix(pairs, 5, 3))
    assert similar_table.write(tmp_path, blend) == 4  # at most every other book
    table = similar_table.SimilarTable.open(tmp_path)
    tabled, computed = table.answer(0, 4), blend.nearest(0, 4)
    assert [r for r, _ in tabled] == [r for r, _ in computed]
    assert np.allclose([s for _, s in tabled], [s for _, s in computed], atol=1e-6)  # stored as float32
    assert table.answer(0, 1)[0][0] == 1
    assert similar_table.SimilarTable.open(tmp_path / "nothing") is None
