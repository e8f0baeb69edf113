"""Evaluation of a model version, with two baselines computed the same way on the same split.

Split: for every book with >= 5 links, 10% of its links (at least one) are held out, seeded.
Link metrics, on the held-out pairs:
  link_auc         ROC AUC of held-out pairs against 10 times as many sampled non-pairs, drawn like the training
                   negatives (uniform book, uniform link, never a training or held-out pair).
  link_auc_same_book  the same against non-pairs of the same books (harder: only the link differs).
  link_recall@10   for each book with held-out links: share of them among its 10 best-scored links, links it
                   has in training excluded from the ranking; mean over books.
Book metrics, on the 10 nearest other books:
  genre_precision@10  share of the 10 nearest books that share a genre with the query (genre sets from
                      labels.normalise_genres: comma-separated parts, lower-cased, a shared part is a match; a
                      neighbour without a genre is a miss); mean over books that have a genre.
  author_recall@10    share of the query author's other books found among the 10 nearest; mean over books whose
                      (normalised, non-empty) author has >= 2 books.
  series_recall@10    the same for the book's series (Book.series, derived at import by catalogue/series.py from
                      Goodreads titles and Wikipedia infoboxes); mean over books whose series has >= 2 books.
A metric that cannot be computed on the data (no genres, no author with two books, nothing held out) is None,
never NaN: metrics.json and the database keep null and the tables show "n/a".
Methods: served (books as `similar` returns them: the embedding blended with TF-IDF, the query's series and author
first, embeddings/hybrid.py; links as `books_for_link` ranks them: the cosine plus the TF-IDF neighbours' votes
normalised per book, embeddings/link_votes.py), the embedding alone (cosine), TF-IDF (cosine between TF-IDF rows of
the book x link training matrix; a link is scored for a book by the similarity-weighted votes of its 50 most similar
books, link_votes.votes) and popularity (links ranked by how many training books use them, books by how many training
links they have).

Only numpy, scipy and scikit-learn: work is done in chunks of query rows, so memory stays bounded on the full
catalogue, and the query books are a seeded sample of at most `max_queries`.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.metrics import roc_auc_score

from embeddings.batches import PairSet
from embeddings.chunking import chunks
from embeddings.dataset import TrainingData
from embeddings.link_votes import LinkVotes, neighbour_matrix, votes

K = 10
METRIC_NAMES = (
    "link_auc",
    "link_auc_same_book",
    "link_recall@10",
    "genre_precision@10",
    "author_recall@10",
    "series_recall@10",
)
METHODS = ("served", "embedding", "tfidf", "popularity")
CHUNK = 512


@dataclass
class Split:
    train_pairs: np.ndarray  # (n, 2) int32
    heldout_pairs: np.ndarray  # (m, 2) int32

    def summary(self) -> dict[str, int]:
        return {
            "train_pairs": len(self.train_pairs),
            "heldout_pairs": len(self.heldout_pairs),
            "heldout_books": int(np.unique(self.heldout_pairs[:, 0]).size),
        }


def holdout_split(pairs: np.ndarray, n_books: int, fraction: float = 0.1, min_links: int = 5, seed: int = 0) -> Split:
    """Hold out round(fraction * links), at least 1, of every book with >= min_links links."""
    pairs = np.asarray(pairs, dtype=np.int32)
    rng = np.random.default_rng(seed)
    counts = np.bincount(pairs[:, 0], minlength=n_books)
    n_hold = np.where(counts >= min_links, np.maximum(1, np.round(counts * fraction)), 0).astype(np.int64)
    # Rank each book's pairs in a random order; the first n_hold of each book are held out.
    order = np.lexsort((rng.random(len(pairs)), pairs[:, 0]))
    starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
    sorted_books = pairs[order, 0]
    rank = np.arange(len(pairs)) - starts[sorted_books]
    held = np.zeros(len(pairs), dtype=bool)
    held[order] = rank < n_hold[sorted_books]
    return Split(train_pairs=pairs[~held], heldout_pairs=pairs[held])


# --- scorers: each ranks links for books and books for books -------------------------------------------------


class EmbeddingScorer:
    def __init__(self, book_vectors: np.ndarray, link_vectors: np.ndarray) -> None:
        self.books = np.asarray(book_vectors, dtype=np.float32)
        self.links = np.asarray(link_vectors, dtype=np.float32)

    def link_scores(self, book_rows: np.ndarray) -> np.ndarray:
        return self.books[book_rows] @ self.links.T

    def book_scores(self, book_rows: np.ndarray) -> np.ndarray:
        return self.books[book_rows] @ self.books.T


class TfidfScorer:
    """Books by TF-IDF cosine; links for a book by the similarity-weighted votes of its nearest books."""

    def __init__(
        self,
        train_pairs: np.ndarray,
        n_books: int,
        n_links: int,
        neighbours: int = 50,
        neighbour_rows: sp.csr_matrix | None = None,
    ) -> None:
        ones = np.ones(len(train_pairs), dtype=np.float32)
        self.matrix = sp.csr_matrix((ones, (train_pairs[:, 0], train_pairs[:, 1])), shape=(n_books, n_links))
        self.tfidf = TfidfTransformer(norm="l2", smooth_idf=True).fit_transform(self.matrix).astype(np.float32).tocsr()
        self.neighbours = neighbours
        # every book's neighbours (link_votes.neighbour_matrix of this TF-IDF), ranked on first use unless given
        self._neighbour_rows = neighbour_rows

    def book_scores(self, book_rows: np.ndarray) -> np.ndarray:
        return np.asarray((self.tfidf[book_rows] @ self.tfidf.T).todense())

    def link_scores(self, book_rows: np.ndarray) -> np.ndarray:
        """Each link's votes from the book's nearest books by TF-IDF (link_votes.votes, whose served score adds
        them to the embedding's cosine)."""
        if self._neighbour_rows is None:
            self._neighbour_rows = neighbour_matrix(self.tfidf, self.neighbours)
        return votes(self._neighbour_rows[np.asarray(book_rows)], self.matrix)


class PopularityScorer:
    def __init__(self, train_pairs: np.ndarray, n_books: int, n_links: int) -> None:
        self.link_counts = np.bincount(train_pairs[:, 1], minlength=n_links).astype(np.float32)
        self.book_counts = np.bincount(train_pairs[:, 0], minlength=n_books).astype(np.float32)

    def link_scores(self, book_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.link_counts, (len(book_rows), len(self.link_counts))).copy()

    def book_scores(self, book_rows: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.book_counts, (len(book_rows), len(self.book_counts))).copy()


# --- metrics -----------------------------------------------------------------------------------------------------


def _sample(rows: np.ndarray, max_queries: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_queries is not None and len(rows) > max_queries:
        rows = np.sort(rng.choice(rows, size=max_queries, replace=False))
    return rows


def auc_pairs(
    split: Split,
    all_pairs: np.ndarray,
    n_books: int,
    n_links: int,
    same_book: bool = False,
    negatives_per_positive: int = 10,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out pairs followed by sampled non-pairs (never a training or held-out pair); labels 1 then 0.

    Non-pairs are drawn like the training negatives (uniform book, uniform link), or, with same_book, for the
    books of the held-out pairs (a harder test: the book is fixed, only the link differs).
    """
    rng = np.random.default_rng(seed)
    known = PairSet(all_pairs, n_links)
    size = len(split.heldout_pairs) * negatives_per_positive
    if same_book:
        books = np.repeat(split.heldout_pairs[:, 0], negatives_per_positive).astype(np.int64)
    else:
        books = rng.integers(0, n_books, size=size)
    links = rng.integers(0, n_links, size=size)
    bad = np.flatnonzero(known.contains(books, links))
    for _ in range(100):
        if bad.size == 0:
            break
        links[bad] = rng.integers(0, n_links, size=bad.size)
        bad = bad[known.contains(books[bad], links[bad])]
    keep = np.ones(len(books), dtype=bool)
    keep[bad] = False  # books that use nearly every link: drop the few that found no non-pair
    pairs = np.concatenate([split.heldout_pairs, np.stack([books[keep], links[keep]], axis=1).astype(np.int32)])
    labels = np.concatenate([np.ones(len(split.heldout_pairs)), np.zeros(int(keep.sum()))])
    return pairs, labels


def link_metrics(
    scorer,
    split: Split,
    auc_sets: dict[str, tuple[np.ndarray, np.ndarray]],
    n_books: int,
    n_links: int,
    max_queries: int | None,
    seed: int,
) -> dict[str, float | None]:
    """AUC over each named auc set and recall@10 of held-out links; each book's scores computed once."""
    rng = np.random.default_rng(seed)
    names = list(auc_sets)
    auc_pairs_ = np.concatenate([auc_sets[n][0] for n in names])
    auc_labels = np.concatenate([auc_sets[n][1] for n in names])
    bounds = np.cumsum([0] + [len(auc_sets[n][1]) for n in names])
    heldout_books = np.unique(split.heldout_pairs[:, 0])
    recall_books = _sample(heldout_books, max_queries, rng)
    auc_books = np.unique(auc_pairs_[:, 0])
    train = sp.csr_matrix(
        (np.ones(len(split.train_pairs), dtype=bool), (split.train_pairs[:, 0], split.train_pairs[:, 1])),
        shape=(n_books, n_links),
    )
    held = sp.csr_matrix(
        (np.ones(len(split.heldout_pairs), dtype=bool), (split.heldout_pairs[:, 0], split.heldout_pairs[:, 1])),
        shape=(n_books, n_links),
    )
    # AUC: sort the scored pairs by book so each chunk's scores are looked up directly.
    auc_scores = np.empty(len(auc_labels), dtype=np.float64)
    order = np.argsort(auc_pairs_[:, 0], kind="stable")
    sorted_books = auc_pairs_[order, 0]
    recalls: list[np.ndarray] = []
    for chunk in chunks(auc_books, CHUNK):
        scores = scorer.link_scores(chunk)
        lo, hi = np.searchsorted(sorted_books, [chunk[0], chunk[-1] + 1])
        idx = order[lo:hi]
        row_of = np.searchsorted(chunk, auc_pairs_[idx, 0])
        auc_scores[idx] = scores[row_of, auc_pairs_[idx, 1]]
        in_recall = np.isin(chunk, recall_books)
        if in_recall.any():
            rows = chunk[in_recall]
            sub = scores[in_recall].astype(np.float32, copy=True)
            sub[train[rows].toarray()] = -np.inf  # rank only links the book does not have in training
            top = np.argpartition(-sub, K, axis=1)[:, :K]
            hits = np.take_along_axis(held[rows].toarray(), top, axis=1).sum(axis=1)
            recalls.append(hits / np.asarray(held[rows].sum(axis=1)).ravel())
    result = {
        name: _auc(auc_labels[lo:hi], auc_scores[lo:hi])
        for name, lo, hi in zip(names, bounds[:-1], bounds[1:], strict=True)
    }
    return {**result, "link_recall@10": float(np.concatenate(recalls).mean()) if recalls else None}


def _auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC, or None when there is nothing to rank (no held-out pair, or no non-pair)."""
    if len(np.unique(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def nearest_books(scorer, rows: np.ndarray, k: int = K) -> np.ndarray:
    """(len(rows), k) indices of the k best-scored other books, best first.

    A scorer with its own nearest_books (the served blend, embeddings/hybrid.py) answers with exactly the function
    that serves `similar`, so what is measured is what readers get.
    """
    if hasattr(scorer, "nearest_books"):
        return scorer.nearest_books(rows, k) if len(rows) else np.zeros((0, k), dtype=np.int64)
    out = []
    for chunk in chunks(rows, CHUNK):
        scores = scorer.book_scores(chunk).astype(np.float32, copy=True)
        scores[np.arange(len(chunk)), chunk] = -np.inf
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        best = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        out.append(np.take_along_axis(top, best, axis=1))
    return np.concatenate(out) if out else np.zeros((0, k), dtype=np.int64)


def group_codes(labels: np.ndarray | None, n_books: int) -> np.ndarray:
    """Integer codes of string labels (author, series) per book, -1 where unknown ('' or no labels at all)."""
    if labels is None:
        return np.full(n_books, -1, dtype=np.int64)
    labels = np.asarray(labels, dtype=object).astype(str)
    _, codes = np.unique(labels, return_inverse=True)
    codes = codes.astype(np.int64)
    codes[labels == ""] = -1
    return codes


def book_label_codes(data: TrainingData) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Book x genre indicator matrix, integer author codes and series codes (-1 unknown)."""
    vocab: dict[str, int] = {}
    rows, cols = [], []
    for row, genres in enumerate(data.book_genres):
        for genre in genres:
            rows.append(row)
            cols.append(vocab.setdefault(genre, len(vocab)))
    genres = sp.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(data.n_books, max(1, len(vocab)))
    )
    return genres, group_codes(data.book_authors, data.n_books), group_codes(data.book_series, data.n_books)


def _grouped(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(group sizes by code, rows of books whose group has >= 2 books)."""
    sizes = np.bincount(codes[codes >= 0], minlength=1)
    return sizes, np.flatnonzero((codes >= 0) & (sizes[np.maximum(codes, 0)] >= 2))


def group_recall(neighbours: np.ndarray, queries: np.ndarray, codes: np.ndarray, sizes: np.ndarray) -> float:
    """Mean share of each query's group-mates found among its neighbours."""
    found = (codes[neighbours] == codes[queries][:, None]).sum(axis=1)
    return float((found / (sizes[codes[queries]] - 1)).mean())


def book_metrics(scorer, data: TrainingData, max_queries: int | None, seed: int) -> dict[str, float | None]:
    rng = np.random.default_rng(seed)
    genres, authors, series = book_label_codes(data)
    has_genre = np.flatnonzero(np.asarray(genres.sum(axis=1)).ravel() > 0)
    author_sizes, has_author = _grouped(authors)
    series_sizes, has_series = _grouped(series)
    genre_q = _sample(has_genre, max_queries, rng)
    author_q = _sample(has_author, max_queries, rng)
    series_q = _sample(has_series, max_queries, rng)
    queries = np.union1d(np.union1d(genre_q, author_q), series_q)
    neighbours = nearest_books(scorer, queries)
    result: dict[str, float | None] = {}
    if len(genre_q):
        nb = neighbours[np.searchsorted(queries, genre_q)]
        shared = np.asarray(genres[np.repeat(genre_q, K)].multiply(genres[nb.ravel()]).sum(axis=1)).ravel() > 0
        result["genre_precision@10"] = float(shared.reshape(-1, K).mean())
    else:
        result["genre_precision@10"] = None  # the source names no genres: not computable, never NaN
    for name, q, codes, sizes in (
        ("author_recall@10", author_q, authors, author_sizes),
        ("series_recall@10", series_q, series, series_sizes),
    ):
        nb = neighbours[np.searchsorted(queries, q)]
        result[name] = group_recall(nb, q, codes, sizes) if len(q) else None
    return result


def evaluate_scorers(
    data: TrainingData,
    split: Split,
    scorers: dict[str, object],
    max_queries: int | None = 5000,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """The four metrics for each named scorer, on the same split, queries and non-pairs."""
    auc_sets = {
        "link_auc": auc_pairs(split, data.pairs, data.n_books, data.n_links, seed=seed),
        "link_auc_same_book": auc_pairs(split, data.pairs, data.n_books, data.n_links, same_book=True, seed=seed),
    }
    out = {}
    for name, scorer in scorers.items():
        metrics = link_metrics(scorer, split, auc_sets, data.n_books, data.n_links, max_queries, seed)
        metrics.update(book_metrics(scorer, data, max_queries, seed))
        out[name] = metrics
    return out


def baseline_scorers(
    data: TrainingData, split: Split, neighbour_rows: sp.csr_matrix | None = None
) -> dict[str, object]:
    return {
        "tfidf": TfidfScorer(split.train_pairs, data.n_books, data.n_links, neighbour_rows=neighbour_rows),
        "popularity": PopularityScorer(split.train_pairs, data.n_books, data.n_links),
    }


def evaluate(
    data: TrainingData,
    split: Split,
    book_vectors: np.ndarray,
    link_vectors: np.ndarray,
    max_queries: int | None = 5000,
    seed: int = 0,
) -> dict:
    """What is served (the blend of embeddings/hybrid.py), the embedding alone, TF-IDF and popularity side by side,
    plus the split's counts."""
    from embeddings.book_groups import BookGroups
    from embeddings.hybrid import Blend, ServedScorer, tfidf_matrix

    groups = BookGroups.from_labels(data.book_authors, data.book_series, data.n_books)
    blend = Blend(book_vectors, tfidf_matrix(split.train_pairs, data.n_books, data.n_links), groups=groups)
    link_votes = LinkVotes.build(blend.tfidf)
    scorers = {
        "served": ServedScorer(blend, link_vectors, link_votes),
        "embedding": EmbeddingScorer(book_vectors, link_vectors),
        # TF-IDF's votes are the served score's vote term: the same neighbours (the same TF-IDF, ranked once)
        **baseline_scorers(data, split, link_votes.neighbours),
    }
    metrics: dict = evaluate_scorers(data, split, scorers, max_queries=max_queries, seed=seed)
    metrics["split"] = split.summary()
    return metrics


def format_metrics_table(metrics: dict) -> str:
    """Metrics as rows, methods as columns (every entry that holds metric values, embedding first)."""
    columns = [k for k in metrics if isinstance(metrics[k], dict) and any(m in metrics[k] for m in METRIC_NAMES)]
    found = list(columns)
    columns.sort(key=lambda k: (METHODS.index(k) if k in METHODS else -1, found.index(k)))
    width = max([len(c) for c in columns] + [10])
    lines = [f"{'metric':<20}" + "".join(f"{c:>{width + 2}}" for c in columns)]
    for name in METRIC_NAMES:
        cells = []
        for column in columns:
            value = metrics[column].get(name)
            text = f"{value:.3f}" if isinstance(value, float | int) else "n/a"  # None: not computable on this data
            cells.append(f"{text:>{width + 2}}")
        lines.append(f"{name:<20}" + "".join(cells))
    return "\n".join(lines)
