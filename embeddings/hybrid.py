"""What `similar` serves: the embedding's neighbours blended with TF-IDF cosine over the books' links.

For a query book q, candidates are the CANDIDATES books nearest to q by the embedding plus the CANDIDATES nearest
by TF-IDF cosine (exact: the query's sparse row against the book x link matrix, i.e. the posting lists of its
links). Each candidate c is scored

    score(c) = (1 - TFIDF_WEIGHT) * cos_embedding(q, c) / max_embedding + TFIDF_WEIGHT * cos_tfidf(q, c) / max_tfidf

where each max is taken over the candidates, so both signals weigh alike whatever their scale on a source. The
embedding brings what the link graph implies beyond shared links (books of a series that share few links with
each other, through the links they share with third books); TF-IDF brings the explicit evidence of shared rare
links (an author's name, a series, a character), which the embedding blurs on large catalogues.

Then the explicit groups of embeddings/book_groups.py: the books of q's series and by q's author are candidates
too, and SERIES_WEIGHT (same series) and AUTHOR_WEIGHT (same author) are added to their score, so the series comes
first, then the author's other books in their blended order, unless a stranger's blend beats theirs by more than the
author weight. The reported score is the total over its maximum (1 + both weights): it stays within [0, 1].
Folded-in books (with_overlay) carry their own author and series, so they get these terms and count as a trained
book's series or author mates like any other.

The TF-IDF matrix is a per-version artifact (`book_tfidf.npz`, written by the worker from the same pairs the
vectors were trained on), so web processes need numpy and scipy only. The same `Blend.nearest` is what
evaluation scores as "served" (embeddings/evaluation.py) and what LoadedVersion.similar_books returns.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings.book_groups import BookGroups
from embeddings.link_votes import LinkVotes
from embeddings.rare_links import RareLinks

if TYPE_CHECKING:  # scipy is imported where it is used: a web process that never needs it saves ~20 MB
    import scipy.sparse as sp

TFIDF_FILE = "book_tfidf.npz"
CANDIDATES = 50
TFIDF_WEIGHT = 0.5
SERIES_WEIGHT = 1.0
AUTHOR_WEIGHT = 0.15


def tfidf_matrix(pairs: np.ndarray, n_books: int, n_links: int) -> sp.csr_matrix:
    """Book x link TF-IDF (binary tf, smoothed idf as scikit-learn's TfidfTransformer), rows L2-normalised."""
    import scipy.sparse as sp

    pairs = np.asarray(pairs).reshape(-1, 2)
    ones = np.ones(len(pairs), dtype=np.float32)
    matrix = sp.csr_matrix((ones, (pairs[:, 0], pairs[:, 1])), shape=(n_books, n_links), dtype=np.float32)
    matrix.data[:] = 1.0  # duplicates count once
    df = np.bincount(pairs[:, 1], minlength=n_links).astype(np.float64)
    idf = smoothed_idf(df, n_books).astype(np.float32)
    weighted = matrix @ sp.diags(idf)
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    return (sp.diags(1.0 / np.maximum(norms, 1e-12).astype(np.float32)) @ weighted).tocsr().astype(np.float32)


def smoothed_idf(df: np.ndarray, n_books: int) -> np.ndarray:
    """scikit-learn's smoothed idf of links used by `df` of `n_books` books (float64)."""
    return np.log((1.0 + n_books) / (1.0 + np.asarray(df, dtype=np.float64))) + 1.0


def save_tfidf(folder: Path, pairs: np.ndarray, n_books: int, n_links: int) -> sp.csr_matrix:
    """Write the version's TF-IDF matrix and return it."""
    import scipy.sparse as sp

    matrix = tfidf_matrix(pairs, n_books, n_links)
    sp.save_npz(Path(folder) / TFIDF_FILE, matrix, compressed=False)
    return matrix


class Blend:
    """Nearest books by the blended score, over L2-normalised book vectors and a TF-IDF matrix of the same rows."""

    def __init__(
        self,
        book_vectors: np.ndarray,
        tfidf: sp.csr_matrix | Callable[[], sp.csr_matrix],
        candidates: int = CANDIDATES,
        tfidf_weight: float = TFIDF_WEIGHT,
        groups: BookGroups | None = None,
        series_weight: float = SERIES_WEIGHT,
        author_weight: float = AUTHOR_WEIGHT,
        rare: RareLinks | None = None,
        rare_folder: Path | None = None,
    ) -> None:
        self.vectors = book_vectors
        # The matrix, or what reads it on first use: a web process answers plain `similar` from the version's
        # table (similar_table.py) and needs it only for a longer k or an overlay; read, it costs about 12 MB a
        # process on the full-scale catalogue (it and its transpose).
        self._read_tfidf = tfidf if callable(tfidf) else None
        self._tfidf: sp.csr_matrix | None = None if callable(tfidf) else self._checked(tfidf.tocsr())
        self._tfidf_t: sp.csr_matrix | None = None
        self._lock = threading.Lock()
        self.candidates = candidates
        self.weight = tfidf_weight
        if groups is not None and len(groups.author_codes) != len(book_vectors):
            raise ValueError(f"group codes {len(groups.author_codes)} != book vectors {len(book_vectors)}")
        self.groups = groups  # None: a version from before book_groups.npz, the blend alone
        self.series_weight = series_weight
        self.author_weight = author_weight
        # Folded-in books (with_overlay): rows past the version's, their TF-IDF rows, and the version's rows they
        # shadow (a trained book whose links were edited), which are never candidates.
        self.extra_tfidf: sp.csr_matrix | None = None
        self.hidden = np.zeros(0, dtype=np.int64)
        # The links the version dropped as rare, as TF-IDF columns after its own for folded books' rows only
        # (embeddings/rare_links.py): read from the folder when an overlay first uses one.
        self.rare_folder = rare_folder
        self.rare = rare
        self._rare_idf: np.ndarray | None = None  # set with the rare columns (with_overlay)
        self._row_norms: np.ndarray | None = None

    @property
    def tfidf(self) -> sp.csr_matrix:
        if self._tfidf is None:
            with self._lock:
                if self._tfidf is None:
                    self._tfidf = self._checked(self._read_tfidf().tocsr())
        return self._tfidf

    @property
    def tfidf_t(self) -> sp.csr_matrix:
        """Link x book: a query walks the posting lists of its own links only."""
        if self._tfidf_t is None:
            matrix = self.tfidf
            with self._lock:
                if self._tfidf_t is None:
                    self._tfidf_t = matrix.T.tocsr()
        return self._tfidf_t

    def _checked(self, tfidf: sp.csr_matrix) -> sp.csr_matrix:
        if tfidf.shape[0] != len(self.vectors):
            raise ValueError(f"TF-IDF rows {tfidf.shape[0]} != book vectors {len(self.vectors)}")
        return tfidf

    def idf(self) -> np.ndarray:
        """Each link's idf, recovered from the matrix (tfidf_matrix's formula over its book counts)."""
        df = np.bincount(self.tfidf.indices, minlength=self.tfidf.shape[1])
        return smoothed_idf(df, self.tfidf.shape[0]).astype(np.float32)

    def with_overlay(
        self,
        vectors: object,
        link_indptr: np.ndarray,
        link_rows: np.ndarray,
        hidden: np.ndarray,
        authors: Sequence[str] | None = None,
        series: Sequence[str] | None = None,
    ) -> Blend:
        """This blend over the version's books plus folded ones (vectors: embeddings.book_space.StackedRows).

        A folded book's TF-IDF row is its known links weighted by the version's idf; the version's matrix, shared
        with this blend, is not copied. Its author and series (normalised; '' unknown) join the version's groups,
        so folded books get the same series and author terms as trained ones."""
        _ = self.tfidf_t  # read before the copy, which then shares it
        blend = copy.copy(self)
        blend._lock = threading.Lock()
        m = len(link_indptr) - 1
        if self.groups is not None:
            blend.groups = self.groups.extended(authors or [""] * m, series or [""] * m)
        blend.vectors = vectors
        link_rows = np.asarray(link_rows)
        idf = self.idf()
        if len(link_rows) and int(link_rows.max()) >= len(idf):  # rare links' columns (FoldResult.tfidf_columns)
            if blend.rare is None and self.rare_folder is not None:
                blend.rare = RareLinks.open(self.rare_folder)
            if blend.rare is not None:
                blend._rare_idf = smoothed_idf(blend.rare.counts(), self.tfidf.shape[0])
                idf = np.concatenate([idf, blend._rare_idf.astype(np.float32)])
            link_indptr, link_rows = _drop_columns(link_indptr, link_rows, len(idf))  # a file gone: known links only
        import scipy.sparse as sp

        weights = idf[link_rows]
        extra = sp.csr_matrix((weights, link_rows, link_indptr), shape=(m, len(idf)), dtype=np.float32)
        norms = np.sqrt(np.asarray(extra.multiply(extra).sum(axis=1)).ravel())
        blend.extra_tfidf = (sp.diags(1.0 / np.maximum(norms, 1e-12).astype(np.float32)) @ extra).tocsr()
        blend.hidden = np.asarray(hidden, dtype=np.int64)
        return blend

    @classmethod
    def open(cls, folder: Path, book_vectors: np.ndarray) -> Blend | None:
        path = Path(folder) / TFIDF_FILE
        if not path.is_file():
            return None
        with np.load(path) as stored:  # the row count only: the matrix is read on first use
            rows = int(stored["shape"][0])
        if rows != len(book_vectors):
            raise ValueError(f"TF-IDF rows {rows} != book vectors {len(book_vectors)}")
        return cls(book_vectors, lambda: _load_matrix(path), groups=BookGroups.open(folder), rare_folder=Path(folder))

    def tfidf_scores(self, row: int) -> np.ndarray:
        n, n_links = self.tfidf.shape
        matrix, at = (self.tfidf, row) if row < n else (self.extra_tfidf, row - n)
        start, stop = matrix.indptr[at], matrix.indptr[at + 1]
        links, weights = matrix.indices[start:stop], matrix.data[start:stop]
        known = links < n_links
        scores = np.asarray(self.tfidf_t[links[known]].T @ weights[known]).ravel()
        if not known.all():
            scores += self._rare_scores(links[~known] - n_links, weights[~known])
        if self.extra_tfidf is None:
            return scores
        import scipy.sparse as sp

        query = sp.csr_matrix((weights, links, [0, len(links)]), shape=(1, self.extra_tfidf.shape[1]))
        return np.concatenate([scores, np.asarray((self.extra_tfidf @ query.T).todense()).ravel()])

    def _rare_scores(self, columns: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """A folded book's rare links against the version's books that use them. Their rows are not renormalised
        with the rare columns (their own answers stay as trained): each rare entry is scaled like their others."""
        if self._row_norms is None:
            self._row_norms = _row_norms(self.tfidf, self.idf())
        scores = np.zeros(self.tfidf.shape[0], dtype=np.float64)
        for j, weight in zip(columns.tolist(), weights.tolist(), strict=True):
            rows = self.rare.books_of(j)
            scores[rows] += weight * self._rare_idf[j] / self._row_norms[rows]
        return scores.astype(np.float32)

    def nearest(self, row: int, k: int, embedding_rows: np.ndarray | None = None) -> list[tuple[int, float]]:
        """The k best other books of `row` as (row, blended score), best first.

        embedding_rows: the embedding's nearest rows when the caller has them from an index (else exact search).
        """
        n = len(self.vectors)
        query = np.asarray(self.vectors[row], dtype=np.float32)
        want = min(max(self.candidates, k), n - 1)
        if want <= 0:
            return []
        if embedding_rows is None:
            embedding_rows = _top(np.asarray(self.vectors @ query), want + 1)
        tfidf = self.tfidf_scores(row)
        tfidf_rows = _top(tfidf, want + 1)
        rows = np.union1d(embedding_rows, tfidf_rows)
        if self.groups is not None:
            rows = np.union1d(rows, self.groups.members(row))
        rows = rows[(rows != row) & ~np.isin(rows, self.hidden)]
        if len(rows) == 0:
            return []
        emb = np.asarray(self.vectors[rows] @ query, dtype=np.float64)
        tf = tfidf[rows].astype(np.float64)
        score = (1.0 - self.weight) * emb / max(float(emb.max()), 1e-9) + self.weight * tf / max(float(tf.max()), 1e-9)
        if self.groups is not None:
            score += self.series_weight * self.groups.series.same(row, rows)
            score += self.author_weight * self.groups.authors.same(row, rows)
            score /= 1.0 + self.series_weight + self.author_weight
        order = np.lexsort((rows, -score))[:k]  # ties: lower row first, so the result is deterministic
        return [(int(rows[i]), float(score[i])) for i in order]


def _load_matrix(path: Path) -> sp.csr_matrix:
    import scipy.sparse as sp

    return sp.load_npz(path)


def _row_norms(tfidf: sp.csr_matrix, idf: np.ndarray) -> np.ndarray:
    """Each row's norm before tfidf_matrix normalised it (idf / stored weight of any of its entries); inf when
    the row is empty, so that it scores 0."""
    norms = np.full(tfidf.shape[0], np.inf)
    filled = np.diff(tfidf.indptr) > 0
    first = tfidf.indptr[:-1][filled]
    norms[filled] = idf[tfidf.indices[first]] / tfidf.data[first]
    return norms


def _drop_columns(indptr: np.ndarray, columns: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR rows without their columns past `width`."""
    owner = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
    keep = columns < width
    counts = np.bincount(owner[keep], minlength=len(indptr) - 1)
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64), columns[keep]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(scores))
    return np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))


class ServedScorer:
    """Evaluation view of what is served: books ranked by Blend.nearest, links by the embedding's cosine plus the
    neighbours' votes of embeddings/link_votes.py (the cosine alone without `votes`)."""

    def __init__(self, blend: Blend, link_vectors: np.ndarray, votes: LinkVotes | None = None) -> None:
        self.blend = blend
        self.links = np.asarray(link_vectors, dtype=np.float32)
        self.votes = votes

    def link_scores(self, book_rows: np.ndarray) -> np.ndarray:
        cosines = np.asarray(self.blend.vectors[book_rows], dtype=np.float32) @ self.links.T
        return cosines if self.votes is None else self.votes.link_scores(book_rows, cosines)

    def nearest_books(self, rows: np.ndarray, k: int) -> np.ndarray:
        return np.array([[r for r, _ in self.blend.nearest(int(row), k)] for row in rows], dtype=np.int64)
