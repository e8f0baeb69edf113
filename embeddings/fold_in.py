"""Fold-in: a vector for a book the active version was not trained on, without retraining (numpy and scipy only).

The version's link vectors are frozen and one book vector b is fitted with the model's own loss
(embeddings/keras_model.py): the book's links are positives, non-links drawn as training draws its negatives are
negatives, each scored by the normalised dot product cos(b, l) through the trained output layer
sigmoid(kernel * cos + bias) with binary cross-entropy (regression versions: cos against +1/-1 with squared error).

Weights follow what one book sees in an epoch of training (embeddings/batches.py):
- a positive (book, link) pair is drawn (books using the link) ** -positive_power times as often as the average
  pair ("power"; "idf" and "uniform" likewise), so positives weigh w(link) / mean over the version's pairs of w;
- negatives come to every book alike, negative_ratio * n_pairs / n_books of them an epoch whatever its own link
  count, their links drawn by (books using the link) ** popularity_power over the links some pair uses. That
  expectation is estimated on NEGATIVE_SAMPLES links drawn from the same distribution (seeded by the book id, so
  a book folds to the same vector every time), never one of the book's own links.
The loss is minimised on the unit sphere (gradient descent, Barzilai-Borwein steps) from the mean of the book's
link vectors. A link the version dropped as rare (embeddings/rare_links.py) is a positive too, its vector the
normalised mean of the vectors of the version's books that use it, weighted as a link of their count plus one.
A version trained before its output layer was saved (no output_layer.json) gets the layer re-fitted from its own
vectors: a logistic regression of the cosines of its pairs against sampled non-pairs
(estimate_output_layer), reported as output_layer "estimated".

Never imports TensorFlow: web processes may import this module (they never call fold(); a worker or
`manage.py fold_in` does).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from embeddings.batches import link_weights
from embeddings.hybrid import TFIDF_FILE
from embeddings.rare_links import RareLinks

if TYPE_CHECKING:  # scipy is imported where it is used: a web process that never needs it saves ~20 MB
    import scipy.sparse as sp

OUTPUT_LAYER_FILE = "output_layer.json"
NEGATIVE_SAMPLES = 1024  # links drawn to estimate a book's negative term
MAX_ITERATIONS = 200
TOLERANCE = 1e-4  # stop when the gradient along the sphere is this share of the first one
ESTIMATE_PAIRS = 20_000  # pairs (and ratio times as many non-pairs) re-fitting a missing output layer


class FoldInUnavailable(RuntimeError):
    """The version lacks what fold-in needs (its TF-IDF matrix, which gives the training links of its books)."""


@dataclass(frozen=True)
class FoldResult:
    vector: np.ndarray | None  # float32 unit vector; None when no link of the book is known to the version
    link_rows: np.ndarray  # the version's rows of the book's known links (int32, sorted)
    unknown_link_ids: list[int]  # catalogue link ids the version has no vector for: ignored
    loss: float | None
    iterations: int
    seconds: float
    # Of the unknown links, those the version dropped as rare (embeddings/rare_links.py), used through their books,
    # and their TF-IDF columns in the served blend (after the version's links: n_links + their index there).
    rare_link_ids: list[int] = field(default_factory=list)
    rare_columns: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))

    @property
    def tfidf_columns(self) -> np.ndarray:
        """The book's row of the served blend's TF-IDF matrix: its known links, then its rare ones."""
        return np.concatenate([self.link_rows, self.rare_columns]).astype(np.int32)


class FoldInModel:
    """What folding needs from one version: link vectors, output layer, link counts and the training settings."""

    def __init__(
        self,
        link_ids: np.ndarray,
        link_vectors: np.ndarray,
        link_counts: np.ndarray,
        output_layer: dict,
        params: dict,
        output_source: str = "saved",
        book_ids: np.ndarray | None = None,
        book_links: sp.csr_matrix | None = None,
        rare_links: RareLinks | None = None,
        book_vectors: np.ndarray | None = None,
    ) -> None:
        # The version's books and the link rows each was trained on (book_tfidf.npz's pattern): a book whose links
        # are still those needs no fold-in.
        self.book_ids = np.zeros(0, dtype=np.int64) if book_ids is None else np.asarray(book_ids, dtype=np.int64)
        self.book_links = book_links
        self.link_ids = np.asarray(link_ids, dtype=np.int64)
        self.link_vectors = link_vectors
        self.counts = np.asarray(link_counts, dtype=np.int64)
        self.mode = output_layer.get("mode", params.get("mode", "classification"))
        self.kernel = float(output_layer.get("kernel", 1.0))
        self.bias = float(output_layer.get("bias", 0.0))
        self.output_source = output_source
        self.seed = int(params.get("seed", 0))
        n_books = max(1, int(params.get("n_books", 1)))
        n_pairs = int(params.get("n_pairs", self.counts.sum()))
        self.negatives_per_book = float(params.get("negative_ratio", 3.0)) * n_pairs / n_books
        self.rare_links = rare_links if book_vectors is not None else None  # rare links need the books' vectors
        self.book_vectors = book_vectors
        self._pair_weighting = (n_books, params.get("positive_sampling", "uniform"), params.get("positive_power", 0.25))
        weights = link_weights(self.counts, *self._pair_weighting)
        # relative to the average pair of the version
        self._weight_scale = float((self.counts * weights).sum() / max(1, self.counts.sum())) or 1.0
        self.positive_weights = weights / self._weight_scale
        used = self.counts > 0
        if params.get("negative_sampling", "uniform") == "popularity":
            drawn = np.where(
                used, np.maximum(self.counts, 1).astype(np.float64) ** params.get("popularity_power", 0.75), 0
            )
        else:
            drawn = used.astype(np.float64)
        self.negative_cdf = np.cumsum(drawn / drawn.sum())
        self._order = np.argsort(self.link_ids, kind="stable")

    @classmethod
    def open(cls, folder: Path) -> FoldInModel:
        """From a published version folder; raises FoldInUnavailable when it lacks its TF-IDF matrix."""
        folder = Path(folder)
        if not (folder / TFIDF_FILE).is_file():
            raise FoldInUnavailable(f"version {folder.name} has no {TFIDF_FILE} (trained before it existed): retrain")
        params = json.loads((folder / "params.json").read_text())
        link_ids = np.load(folder / "link_ids.npy")
        link_vectors = np.load(folder / "link_vectors.npy", mmap_mode="r")
        import scipy.sparse as sp

        tfidf = sp.load_npz(folder / TFIDF_FILE).tocsr()
        counts = np.bincount(tfidf.indices, minlength=len(link_ids))
        book_vectors = np.load(folder / "book_vectors.npy", mmap_mode="r")
        books = {
            "book_ids": np.load(folder / "book_ids.npy"),
            "book_links": tfidf,
            "rare_links": RareLinks.open(folder),
            "book_vectors": book_vectors,
        }
        path = folder / OUTPUT_LAYER_FILE
        if path.is_file():
            return cls(link_ids, link_vectors, counts, json.loads(path.read_text()), params, **books)
        if params.get("mode", "classification") != "classification":
            return cls(link_ids, link_vectors, counts, {"mode": params["mode"]}, params, **books)
        layer = estimate_output_layer(book_vectors, link_vectors, tfidf, params)
        return cls(link_ids, link_vectors, counts, layer, params, output_source="estimated", **books)

    @property
    def dim(self) -> int:
        return int(self.link_vectors.shape[1])

    def trained_link_rows(self, book_id: int) -> np.ndarray | None:
        """The sorted link rows the version trained book_id on; None when the version has no such book."""
        if self.book_links is None:
            return None
        matches = np.flatnonzero(self.book_ids == int(book_id))
        if not len(matches):
            return None
        row = int(matches[0])
        return np.sort(self.book_links.indices[self.book_links.indptr[row] : self.book_links.indptr[row + 1]])

    def link_rows(self, link_ids: list[int] | np.ndarray) -> tuple[np.ndarray, list[int]]:
        """(sorted version rows of the known links, the unknown link ids in the order given)."""
        ids = np.asarray(list(dict.fromkeys(int(i) for i in link_ids)), dtype=np.int64)
        pos = np.searchsorted(self.link_ids[self._order], ids)
        pos = np.minimum(pos, len(self.link_ids) - 1)
        rows = self._order[pos] if len(self.link_ids) else np.zeros(0, dtype=np.int64)
        known = (self.link_ids[rows] == ids) if len(ids) else np.zeros(0, dtype=bool)
        return np.sort(rows[known]).astype(np.int32), [int(i) for i in ids[~known]]

    def fold(self, link_ids: list[int] | np.ndarray, book_id: int = 0) -> FoldResult:
        """One book's vector from its catalogue link ids (unknown ones are returned; those the version dropped as
        rare are used, and returned in rare_link_ids too)."""
        started = time.perf_counter()
        rows, unknown = self.link_rows(link_ids)
        rare_ids, rare_at = self.rare_links.find(unknown) if self.rare_links is not None else ([], np.zeros(0, int))
        rare_vectors = self.rare_links.vectors(rare_at, self.book_vectors) if len(rare_at) else np.zeros((0, self.dim))
        rare_counts = self.rare_links.counts()[rare_at] if len(rare_at) else np.zeros(0, dtype=np.int64)
        n_positive = len(rows) + len(rare_ids)
        if n_positive == 0:
            return FoldResult(None, rows, unknown, None, 0, time.perf_counter() - started)
        negatives = self._negatives(rows, np.random.default_rng([self.seed, int(book_id) & 0x7FFFFFFF]))
        matrix = np.concatenate(
            [
                np.asarray(self.link_vectors[rows], dtype=np.float64).reshape(-1, self.dim),
                rare_vectors,
                np.asarray(self.link_vectors[negatives], dtype=np.float64).reshape(-1, self.dim),
            ]
        )
        positive = np.zeros(len(matrix), dtype=bool)
        positive[:n_positive] = True
        weights = np.empty(len(matrix))
        weights[: len(rows)] = self.positive_weights[rows]
        # with the new book, one more book uses each rare link than the version has
        weights[len(rows) : n_positive] = link_weights(rare_counts + 1, *self._pair_weighting) / self._weight_scale
        weights[n_positive:] = self.negatives_per_book / max(1, len(negatives))
        start = weights[:n_positive] @ matrix[:n_positive]
        if not np.linalg.norm(start) > 0:
            start = matrix[0]
        vector, loss, iterations = self._minimise(start / np.linalg.norm(start), matrix, positive, weights)
        return FoldResult(
            vector.astype(np.float32),
            rows,
            unknown,
            loss if math.isfinite(loss) else None,
            iterations,
            time.perf_counter() - started,
            rare_ids,
            (len(self.link_ids) + rare_at).astype(np.int32),
        )

    def _minimise(
        self, u: np.ndarray, matrix: np.ndarray, positive: np.ndarray, weights: np.ndarray
    ) -> tuple[np.ndarray, float, int]:
        """Gradient descent on the unit sphere (the cosine ignores |b|) with Barzilai-Borwein steps, halved while
        the loss rises. A few hundred microseconds an iteration at most: scipy's L-BFGS-B costs more per call
        than this whole problem (measured 1.7 ms a call on this machine)."""
        loss, g = self._loss(u, matrix, positive, weights)
        step = 0.5 / max(float(np.linalg.norm(g)), 1e-12)
        tolerance = TOLERANCE * max(1.0, float(np.linalg.norm(g)))
        iterations = 0
        while iterations < MAX_ITERATIONS and float(np.linalg.norm(g)) > tolerance:
            iterations += 1
            for _ in range(30):
                candidate = u - step * g
                candidate /= np.linalg.norm(candidate)
                new_loss, new_g = self._loss(candidate, matrix, positive, weights)
                if new_loss <= loss + 1e-12:
                    break
                step *= 0.5
            else:
                break  # no step lowers the loss: at a minimum up to rounding
            s_, y_ = candidate - u, new_g - g
            curvature = float(s_ @ y_)
            step = float(s_ @ s_) / curvature if curvature > 1e-18 else 2.0 * step
            u, loss, g = candidate, new_loss, new_g
        return u, loss, iterations

    def _negatives(self, own_rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """NEGATIVE_SAMPLES link rows drawn like the training negatives, none of them the book's own links."""
        drawn = np.minimum(np.searchsorted(self.negative_cdf, rng.random(NEGATIVE_SAMPLES)), len(self.counts) - 1)
        drawn = drawn[~np.isin(drawn, own_rows)]
        return drawn.astype(np.int64)

    def _loss(
        self, u: np.ndarray, matrix: np.ndarray, positive: np.ndarray, weights: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """The weighted loss at unit vector u and its gradient along the sphere."""
        from scipy.special import expit

        cosine = matrix @ u
        if self.mode == "classification":
            sign = np.where(positive, -1.0, 1.0)  # -log sigmoid(z) = softplus(-z); -log(1 - sigmoid(z)) = softplus(z)
            z = sign * (self.kernel * cosine + self.bias)
            loss = float(weights @ np.logaddexp(0.0, z))
            d_cosine = weights * sign * expit(z) * self.kernel
        else:
            residual = cosine - np.where(positive, 1.0, -1.0)
            loss = float(weights @ residual**2)
            d_cosine = 2.0 * weights * residual
        g = matrix.T @ d_cosine
        return loss, g - (g @ u) * u


def estimate_output_layer(
    book_vectors: np.ndarray, link_vectors: np.ndarray, tfidf: sp.csr_matrix, params: dict, seed: int = 0
) -> dict:
    """kernel and bias of sigmoid(kernel * cos + bias) re-fitted from a version's vectors (Newton's method on the
    logistic loss of up to ESTIMATE_PAIRS pairs against negative_ratio times as many uniform non-pairs)."""
    from scipy.special import expit

    rng = np.random.default_rng(seed)
    coo = tfidf.tocoo()
    take = rng.permutation(len(coo.row))[:ESTIMATE_PAIRS]
    books, links = coo.row[take], coo.col[take]
    n_neg = int(len(take) * float(params.get("negative_ratio", 3.0)))
    neg_books = rng.integers(0, book_vectors.shape[0], n_neg)
    neg_links = rng.integers(0, link_vectors.shape[0], n_neg)

    def cosines(b: np.ndarray, l_: np.ndarray) -> np.ndarray:
        order = np.argsort(b)  # memory maps read in file order
        out = np.empty(len(b))
        out[order] = np.einsum("ij,ij->i", np.asarray(book_vectors[b[order]]), np.asarray(link_vectors[l_[order]]))
        return out

    x = np.concatenate([cosines(books, links), cosines(neg_books, neg_links)])
    y = np.concatenate([np.ones(len(books)), np.zeros(n_neg)])
    design = np.stack([x, np.ones_like(x)], axis=1)
    theta = np.array([1.0, 0.0])
    for _ in range(25):
        p = expit(design @ theta)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) + 1e-6 * np.eye(2)
        step = np.linalg.solve(hessian, design.T @ (p - y))
        theta -= step
        if np.abs(step).max() < 1e-8:
            break
    return {"mode": "classification", "kernel": float(theta[0]), "bias": float(theta[1])}
