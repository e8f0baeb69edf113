"""How well a link fits a book, as served: the embedding's cosine plus the votes of the book's TF-IDF neighbours.

    score(b, l) = cos(b, l) + VOTE_WEIGHT * votes(b, l) / max over links l' of votes(b, l')
    votes(b, l) = sum of cos_tfidf(b, b') over the NEIGHBOURS other books b' nearest to b by TF-IDF cosine that use l

The embedding places a link near the books the whole graph relates to it; the votes add the explicit evidence of the
book's closest neighbours by shared links, which the embedding blurs for links few books use (the evaluation model
knows some held-out links from a single training book). Normalising the votes by the book's best keeps both terms on
one scale whatever the source. By hand (2026-12-07, the evaluation models of train_quality.py's seeds): on the
Wikipedia sample, seeds 1, 4 and 6 (the weakest of six), link AUC 0.8991 -> 0.9010 on the mean and link recall@10
0.303 -> 0.333; on goodbooks, seed 1, 0.991 -> 0.992 and 0.460 -> 0.572, above TF-IDF's votes alone on both sources
(0.315, 0.541). No other setting was better on both: 100 neighbours gave Wikipedia 0.9013 and 0.336 but goodbooks
recall 0.554; 20 neighbours 0.9003 and 0.332 on Wikipedia; weight 2 0.9009 and 0.335 on Wikipedia and goodbooks
recall 0.561; weight 0.5 goodbooks recall 0.577 but a lower Wikipedia AUC (train_quality.py's ablation prints
both weights).

`books_for_link` serves this score; evaluation scores it as "served" (evaluation.ServedScorer.link_scores), through
the same LinkVotes. The worker writes `link_votes.npz` beside the TF-IDF matrix: the neighbour matrix transposed
(row b' holds the books that count b' among their neighbours, with the weight) and each book's best votes, so a web
process sums the rows of the link's books and never ranks neighbours itself. Only numpy and scipy.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # scipy is imported where it is used: a web process that never needs it saves ~20 MB
    import scipy.sparse as sp

VOTES_FILE = "link_votes.npz"
NEIGHBOURS = 50
VOTE_WEIGHT = 1.0
CHUNK = 1024  # books per block when the neighbours are ranked: a 1,024 x 37,020 float32 block is 150 MB
FIRST_VOTED = 4  # best-voted books per result in books_for_link's first set
_NONE = np.zeros(0, dtype=np.int64)


def neighbour_matrix(tfidf: sp.csr_matrix, neighbours: int = NEIGHBOURS) -> sp.csr_matrix:
    """Books x books: row b holds b's `neighbours` nearest other books by TF-IDF cosine (positive ones only), with
    the cosine as the value. Ties at the cut go to the lower rows, so the matrix is deterministic.

    Each chunk's similarities are made dense: on catalogues with links that most books use, most pairs of books
    share one (by hand, a median of 22,500 of 37,020 on the full-scale generated graph), and selecting in a dense
    block is far quicker than sorting that many sparse entries."""
    import scipy.sparse as sp

    tfidf = tfidf.tocsr()
    n = tfidf.shape[0]
    k = min(neighbours, n - 1)
    if k <= 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    transposed = tfidf.T.tocsr()
    parts = []
    for start in range(0, n, CHUNK):
        sims = (tfidf[start : start + CHUNK] @ transposed).toarray()
        local = np.arange(sims.shape[0])
        sims[local, local + start] = 0.0  # a book is not its own neighbour
        kth = -np.partition(-sims, k - 1, axis=1)[:, k - 1 : k]  # each row's k-th best similarity
        above = sims > kth
        level = sims == kth
        chosen = above | (level & (np.cumsum(level, axis=1, dtype=np.int32) <= k - above.sum(axis=1, keepdims=True)))
        chosen &= sims > 0
        rows, cols = np.nonzero(chosen)
        parts.append(sp.csr_matrix((sims[rows, cols], (rows, cols)), shape=(sims.shape[0], n), dtype=np.float32))
    return sp.vstack(parts, format="csr")


def pattern(matrix: sp.csr_matrix) -> sp.csr_matrix:
    """1 where `matrix` has an entry, sharing its index arrays: the books' links of the TF-IDF matrix (books x
    links), or the links' books of its transpose."""
    import scipy.sparse as sp

    matrix = matrix.tocsr()
    return sp.csr_matrix(
        (np.ones(matrix.nnz, dtype=np.float32), matrix.indices, matrix.indptr), shape=matrix.shape, dtype=np.float32
    )


def votes(neighbours: sp.csr_matrix, usage: sp.csr_matrix) -> np.ndarray:
    """Dense (books of `neighbours`' rows) x links: each link's votes from those books' neighbours."""
    return np.asarray((neighbours @ usage).todense(), dtype=np.float32)


class LinkVotes:
    """The vote term of the served link score, over a version's books (rows) and links (columns).

    Kept as web processes use it: `voters` (books x books, row b' holds the books that count b' among their
    neighbours, with the weight: the neighbour matrix transposed) and `link_books` (links x books, the books using
    each link), so one link's votes are the sum of its books' rows of `voters`. Evaluation's whole rows of scores
    read the neighbour matrix and the usage the other way round, transposed on first use."""

    def __init__(
        self, voters: sp.csr_matrix, link_books: sp.csr_matrix, best: np.ndarray, weight: float = VOTE_WEIGHT
    ) -> None:
        self.voters = voters.tocsr()
        self.link_books = link_books.tocsr()
        self.best = np.asarray(best, dtype=np.float32)  # each book's best votes over all links
        self.weight = weight
        self._neighbours: sp.csr_matrix | None = None
        self._usage: sp.csr_matrix | None = None

    @classmethod
    def build(cls, tfidf: sp.csr_matrix, count: int = NEIGHBOURS, weight: float = VOTE_WEIGHT) -> LinkVotes:
        """Every book's `count` neighbours in `tfidf` (books x links), their votes' best per book."""
        neighbours, usage = neighbour_matrix(tfidf, count), pattern(tfidf)
        best = np.zeros(neighbours.shape[0], dtype=np.float32)
        for start in range(0, len(best), CHUNK):
            block = neighbours[start : start + CHUNK] @ usage
            best[start : start + block.shape[0]] = block.max(axis=1).toarray().ravel()
        votes = cls(neighbours.T.tocsr(), usage.T.tocsr(), best, weight)
        votes._neighbours, votes._usage = neighbours, usage
        return votes

    def reweighted(self, weight: float) -> LinkVotes:
        """The same votes with another weight (the benchmark's ablation)."""
        votes = LinkVotes(self.voters, self.link_books, self.best, weight)
        votes._neighbours, votes._usage = self._neighbours, self._usage
        return votes

    @property
    def neighbours(self) -> sp.csr_matrix:
        """Books x books: each book's neighbours (neighbour_matrix)."""
        if self._neighbours is None:
            self._neighbours = self.voters.T.tocsr()
        return self._neighbours

    def save(self, folder: Path) -> None:
        v = self.voters
        np.savez(
            Path(folder) / VOTES_FILE,
            indptr=v.indptr,
            indices=v.indices,
            data=v.data,
            shape=np.asarray(v.shape),
            best=self.best,
            weight=np.asarray(self.weight),
        )

    @classmethod
    def open(cls, folder: Path, tfidf_t: sp.csr_matrix) -> LinkVotes | None:
        """The version's votes, with the links' books from its TF-IDF matrix transposed (links x books; its pattern
        only, the arrays shared); None for a version from before link_votes.npz."""
        import scipy.sparse as sp

        path = Path(folder) / VOTES_FILE
        if not path.is_file():
            return None
        with np.load(path) as stored:
            shape = tuple(int(x) for x in stored["shape"])
            voters = sp.csr_matrix((stored["data"], stored["indices"], stored["indptr"]), shape=shape)
            best, weight = stored["best"], float(stored["weight"])
        books = tfidf_t.shape[1]
        if shape != (books, books) or len(best) != books:
            raise ValueError(f"{VOTES_FILE} is {shape[0]} x {shape[1]} for {books} books")
        return cls(voters, pattern(tfidf_t), best, weight)

    def vote_terms(self, book_rows: np.ndarray) -> np.ndarray:
        """Dense len(book_rows) x links: weight * votes / the book's best (0 for a book with no votes)."""
        book_rows = np.asarray(book_rows, dtype=np.int64)
        if self._usage is None:
            self._usage = self.link_books.T.tocsr()
        raw = votes(self.neighbours[book_rows], self._usage)
        return self.weight * raw / np.maximum(self.best[book_rows], 1e-12)[:, None]

    def link_scores(self, book_rows: np.ndarray, cosines: np.ndarray) -> np.ndarray:
        """score(b, l) for the given books and every link, from their cosines (len(book_rows) x links)."""
        return np.asarray(cosines, dtype=np.float32) + self.vote_terms(book_rows)

    def votes_for_link(self, link_row: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, vote terms) of the books with a vote for one link: the neighbours of the books that use it."""
        users = self.link_books.indices[self.link_books.indptr[link_row] : self.link_books.indptr[link_row + 1]]
        if len(users) == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        summed = np.asarray(self.voters[users].sum(axis=0)).ravel()
        rows = np.flatnonzero(summed > 0)
        return rows, (self.weight * summed[rows] / np.maximum(self.best[rows], 1e-12)).astype(np.float32)

    def books_for_link(
        self,
        link_row: int,
        link_vector: np.ndarray,
        book_vectors: object,
        embedding_rows: np.ndarray,
        k: int,
        exclude_rows: np.ndarray = _NONE,
    ) -> list[tuple[int, float]]:
        """The k books of best score(b, link) as (row, score / (1 + weight), within [-1, 1]), best first.

        link_vector: L2-normalised. embedding_rows: the books nearest to it (at least k, none of exclude_rows, from
        the index). The answer is the exact top k: a book without votes scores its cosine, so if it is in the top k,
        at most k - 1 books have a higher cosine and it is among the k nearest. Of the voted books only those whose
        vote term could lift them past the k-th best score of a first set (the nearest and the best-voted books)
        have their cosine computed: a popular link's voters are most of the catalogue."""
        voted, terms = self.votes_for_link(link_row)
        keep = ~np.isin(voted, exclude_rows)
        voted, terms = voted[keep], terms[keep]
        nearest = np.asarray(embedding_rows, dtype=np.int64)
        if k <= 0 or len(nearest) + len(voted) == 0:
            return []
        query = np.asarray(link_vector, dtype=np.float32)

        vote_of = np.zeros(len(book_vectors), dtype=np.float64)  # by row: folded-in rows past the version's get none
        vote_of[voted] = terms

        def scores(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            cosines = np.asarray(book_vectors[rows] @ query, dtype=np.float64)
            return cosines, cosines + vote_of[rows]

        first = np.union1d(nearest, voted[_top(terms, FIRST_VOTED * k)])
        cosines, first_scores = scores(first)
        rows, score = first, first_scores
        if len(first) >= k and len(voted):
            bar = np.partition(first_scores, len(first) - k)[len(first) - k]  # the k-th best of the first set
            top_cosine = float(cosines[np.isin(first, nearest)].max()) if len(nearest) else 1.0
            more = np.setdiff1d(voted[terms >= bar - top_cosine], first, assume_unique=True)
            if len(more):  # only these other voted books can reach the bar
                rows = np.concatenate([first, more])
                score = np.concatenate([first_scores, scores(more)[1]])
        score = score / (1.0 + self.weight)
        order = np.lexsort((rows, -score))[:k]  # ties: lower row first
        return [(int(rows[i]), float(score[i])) for i in order]


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values (all of them when there are fewer)."""
    if k >= len(values):
        return np.arange(len(values))
    return np.argpartition(-values, k - 1)[:k]
