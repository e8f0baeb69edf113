"""Vectorised batch sampler: real (book, link) pairs plus sampled negatives, no per-example Python loop.

A batch holds `n_positive` real pairs and `negative_ratio` times as many negatives: random (book, link) pairs
that are not real pairs. Real pairs are kept as sorted int64 keys (book * n_links + link), so checking a whole
array of candidates is one np.searchsorted. Each epoch visits every real pair once, in a seeded random order
(the original drew positives with replacement across batches; a permutation has the same distribution per batch
and no pair is skipped). With positive_sampling "power" or "idf" an epoch instead holds as many positives drawn
by a weight of their link (rare links more often; every pair keeps a positive expected count each epoch).
"""

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

MODES = ("classification", "regression")
NEGATIVE_SAMPLING = ("uniform", "popularity")
POSITIVE_SAMPLING = ("uniform", "idf", "power")


@dataclass
class Batch:
    books: np.ndarray  # int32 book rows
    links: np.ndarray  # int32 link rows
    labels: np.ndarray  # float32: 1/0 (classification) or 1/-1 (regression)

    def __len__(self) -> int:
        return len(self.labels)


def pair_keys(pairs: np.ndarray, n_links: int) -> np.ndarray:
    return pairs[:, 0].astype(np.int64) * n_links + pairs[:, 1].astype(np.int64)


class PairSet:
    """Membership of (book, link) pairs, vectorised."""

    def __init__(self, pairs: np.ndarray, n_links: int) -> None:
        self.n_links = n_links
        self.keys = np.unique(pair_keys(np.asarray(pairs).reshape(-1, 2), n_links))

    def __len__(self) -> int:
        return len(self.keys)

    def contains(self, books: np.ndarray, links: np.ndarray) -> np.ndarray:
        keys = books.astype(np.int64) * self.n_links + links.astype(np.int64)
        if len(self.keys) == 0:
            return np.zeros(len(keys), dtype=bool)
        if len(keys) < 4096:
            at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
            return self.keys[at] == keys
        # Many queries: searching them in sorted order walks self.keys forwards (about 10 times faster).
        order = np.argsort(keys)
        ordered = keys[order]
        at = np.minimum(np.searchsorted(self.keys, ordered), len(self.keys) - 1)
        found = np.empty(len(keys), dtype=bool)
        found[order] = self.keys[at] == ordered
        return found


def link_popularity_weights(pairs: np.ndarray, n_links: int, power: float) -> np.ndarray:
    """P(link) proportional to (books using it) ** power (word2vec uses 0.75); 0 gives uniform.

    Links no pair uses get 0: they are never drawn as negatives (see BatchSampler).
    """
    counts = np.bincount(pairs[:, 1], minlength=n_links).astype(np.float64)
    weights = np.where(counts > 0, np.power(np.maximum(counts, 1.0), power), 0.0)
    return weights / weights.sum()


def positive_pair_weights(pairs: np.ndarray, n_books: int, n_links: int, sampling: str, power: float) -> np.ndarray:
    """Per-pair drawing weights from the pair's link, summing to 1.

    "uniform": every pair alike. "idf": log(1 + n_books / books using the link) (TF-IDF's weighting of rare,
    specific links; positive for every link). "power": (books using the link) ** -power.
    """
    if sampling not in POSITIVE_SAMPLING:
        raise ValueError(f"positive_sampling must be one of {POSITIVE_SAMPLING}, not {sampling!r}")
    weights = link_weights(np.bincount(pairs[:, 1], minlength=n_links), n_books, sampling, power)[pairs[:, 1]]
    return weights / weights.sum()


def link_weights(counts: np.ndarray, n_books: int, sampling: str, power: float) -> np.ndarray:
    """The unscaled weight of a positive pair of a link used by `counts` books (0 counts as 1), by the rules of
    positive_pair_weights; fold-in (embeddings/fold_in.py) weighs a new book's links with it."""
    safe = np.maximum(np.asarray(counts), 1).astype(np.float64)
    if sampling == "power":
        return safe ** -float(power)
    if sampling == "idf":
        return np.log1p(n_books / safe)
    return np.ones_like(safe)


def systematic_draw(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """`size` indices drawn by weight with low variance: index i appears floor or ceil(size * weights[i]) times.

    Systematic resampling over a fresh random order of the indices (so which light ones appear varies), then
    shuffled. Vectorised; the expected count of every index is exactly size * weights[i].
    """
    order = rng.permutation(len(weights))
    cdf = np.cumsum(weights[order])
    points = (rng.random() + np.arange(size)) / size * cdf[-1]
    drawn = order[np.minimum(np.searchsorted(cdf, points, side="right"), len(weights) - 1)]
    return drawn[rng.permutation(size)]


class NegativeSampler:
    """Draws (book, link) pairs that are not in `exclude`. Books uniform; links uniform or by popularity.

    link_pool: the links uniform sampling draws from (default: all n_links); ignored with link_weights.
    """

    def __init__(
        self,
        exclude: PairSet,
        n_books: int,
        n_links: int,
        link_weights: np.ndarray | None = None,
        max_rounds: int = 100,
        link_pool: np.ndarray | None = None,
    ) -> None:
        drawable = n_links if link_pool is None or link_weights is not None else len(link_pool)
        density = len(exclude) / max(1, n_books * drawable)
        if density > 0.9:
            raise ValueError(f"the pair graph is too dense ({density:.0%}) to sample negatives from")
        self.exclude = exclude
        self.n_books = n_books
        self.n_links = n_links
        self.cdf = None if link_weights is None else np.cumsum(link_weights)
        self.max_rounds = max_rounds
        if link_pool is not None and len(link_pool) == n_links:
            link_pool = None  # every link: draw rows directly (same draws as without a pool)
        self.pool = None if link_pool is None else np.asarray(link_pool, dtype=np.int64)

    def _links(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.cdf is not None:
            return np.minimum(np.searchsorted(self.cdf, rng.random(size) * self.cdf[-1]), self.n_links - 1)
        if self.pool is not None:
            return self.pool[rng.integers(0, len(self.pool), size=size, dtype=np.int64)]
        return rng.integers(0, self.n_links, size=size, dtype=np.int64)

    def sample(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        books = rng.integers(0, self.n_books, size=size, dtype=np.int64)
        links = self._links(rng, size)
        bad = np.flatnonzero(self.exclude.contains(books, links))
        # Redraw only the collisions; a handful of vectorised rounds even on dense graphs.
        for _ in range(self.max_rounds):
            if bad.size == 0:
                break
            books[bad] = rng.integers(0, self.n_books, size=bad.size, dtype=np.int64)
            links[bad] = self._links(rng, bad.size)
            bad = bad[self.exclude.contains(books[bad], links[bad])]
        if bad.size:
            raise RuntimeError("could not draw enough negative pairs")
        return books.astype(np.int32), links.astype(np.int32)


def shuffle_within_batches(keys: np.ndarray, batch_of: np.ndarray) -> np.ndarray:
    """np.lexsort((keys, batch_of)) (batch_of sorted, keys from Generator.random()), 3 to 8 times faster.

    Fewer than 2**10 batches: (batch << 53) + keys * 2**53 is an exact int64 key (keys are multiples of 2**-53),
    one quicksort. Fewer than 2**16: quicksort by key, then a stable radix sort by batch. lexsort breaks ties
    between equal keys by position, so on a tie (about one chance in a million an epoch) lexsort itself is used.
    """
    if len(batch_of) == 0 or batch_of[-1] >= 1 << 16:
        return np.lexsort((keys, batch_of))
    if batch_of[-1] < 1 << 10:
        combined = (batch_of.astype(np.int64) << 53) + (keys * 2.0**53).astype(np.int64)
        order = np.argsort(combined)
        ordered = combined[order]
    else:
        order = np.argsort(keys)
        ordered = keys[order]
        order = order[np.argsort(batch_of[order].astype(np.uint16), kind="stable")]
    if (ordered[1:] == ordered[:-1]).any():
        return np.lexsort((keys, batch_of))
    return order


class BatchSampler:
    """Batches of shuffled positives and negatives for one training run; same seed, same batches."""

    def __init__(
        self,
        pairs: np.ndarray,
        n_books: int,
        n_links: int,
        n_positive: int = 1024,
        negative_ratio: float = 2.0,
        mode: str = "classification",
        seed: int = 0,
        negative_sampling: str = "uniform",
        popularity_power: float = 0.75,
        positive_sampling: str = "uniform",
        positive_power: float = 0.25,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if negative_sampling not in NEGATIVE_SAMPLING:
            raise ValueError(f"negative_sampling must be one of {NEGATIVE_SAMPLING}, not {negative_sampling!r}")
        if n_positive < 1 or negative_ratio < 0:
            raise ValueError("n_positive must be >= 1 and negative_ratio >= 0")
        self.pairs = np.ascontiguousarray(pairs, dtype=np.int32).reshape(-1, 2)
        if len(self.pairs) == 0:
            raise ValueError("no pairs to train on")
        self.n_books, self.n_links = n_books, n_links
        self.n_positive = min(n_positive, len(self.pairs))
        self.negative_ratio = negative_ratio
        self.negative_label = 0.0 if mode == "classification" else -1.0
        # Negatives use only links some training pair uses. A link without a pair (in the evaluation split, one
        # whose every pair was held out) would otherwise only ever be a negative and learn to score below any
        # random pair; left out, it keeps its random initial vector, about as uninformed as it is. The final
        # model trains on every pair, so there every link is drawn. (Wikipedia sample, 100 dims, cosine lr:
        # held-out link AUC 0.874 -> 0.887, book metrics unchanged.)
        used = np.flatnonzero(np.bincount(self.pairs[:, 1], minlength=n_links) > 0)
        weights = None
        if negative_sampling == "popularity":
            weights = link_popularity_weights(self.pairs, n_links, popularity_power)
        self.negatives = NegativeSampler(PairSet(self.pairs, n_links), n_books, n_links, weights, link_pool=used)
        # Positives: "uniform" visits every pair once an epoch in a random order; otherwise an epoch holds as many
        # positives, drawn by positive_pair_weights (systematic_draw), so pairs of rare links come more often.
        self.positive_sampling = positive_sampling
        self.positive_weights = positive_pair_weights(self.pairs, n_books, n_links, positive_sampling, positive_power)
        self.rng = np.random.default_rng(seed)

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.pairs) // self.n_positive)

    @property
    def batch_size(self) -> int:
        return self.n_positive + round(self.n_positive * self.negative_ratio)

    def epoch_arrays(self) -> tuple[Batch, list[slice]]:
        """One epoch as flat arrays, batch after batch, and the slice of each batch in them.

        Each batch's positives and negatives are shuffled together. Everything is drawn in a few array
        operations per epoch, so the training loop only slices.
        """
        rng = self.rng
        n = len(self.pairs)
        if self.positive_sampling == "uniform":
            order = rng.permutation(n)
        else:
            order = systematic_draw(rng, self.positive_weights, n)
        n_neg = round(self.n_positive * self.negative_ratio)
        steps = self.steps_per_epoch
        # The last batch may be short of positives; it gets the same ratio of negatives.
        sizes_pos = np.full(steps, self.n_positive)
        sizes_pos[-1] = n - self.n_positive * (steps - 1)
        sizes_neg = np.full(steps, n_neg)
        sizes_neg[-1] = round(sizes_pos[-1] * self.negative_ratio)
        neg_books, neg_links = self.negatives.sample(rng, int(sizes_neg.sum()))

        total = n + len(neg_books)
        books = np.empty(total, dtype=np.int32)
        links = np.empty(total, dtype=np.int32)
        labels = np.empty(total, dtype=np.float32)
        # Batch b occupies [starts[b], starts[b+1]): positives first, then negatives, then shuffled in place.
        sizes = sizes_pos + sizes_neg
        starts = np.concatenate([[0], np.cumsum(sizes)])
        batch_of = np.repeat(np.arange(steps), sizes)
        within = np.arange(total) - starts[batch_of]
        is_pos = within < sizes_pos[batch_of]
        books[is_pos] = self.pairs[order, 0]
        links[is_pos] = self.pairs[order, 1]
        labels[is_pos] = 1.0
        books[~is_pos] = neg_books
        links[~is_pos] = neg_links
        labels[~is_pos] = self.negative_label
        # Shuffle inside each batch: sort by (batch, random key).
        shuffle = shuffle_within_batches(rng.random(total), batch_of)
        slices = [slice(int(a), int(b)) for a, b in itertools.pairwise(starts)]
        return Batch(books[shuffle], links[shuffle], labels[shuffle]), slices

    def epoch(self) -> Iterator[Batch]:
        arrays, slices = self.epoch_arrays()
        for part in slices:
            yield Batch(arrays.books[part], arrays.links[part], arrays.labels[part])

    def batch(self) -> Batch:
        """One batch on its own: n_positive random real pairs plus their negatives (the original's generator)."""
        rng = self.rng
        if self.positive_sampling == "uniform":
            chosen = rng.choice(len(self.pairs), size=self.n_positive, replace=False)
        else:
            chosen = rng.choice(len(self.pairs), size=self.n_positive, replace=False, p=self.positive_weights)
        n_neg = round(self.n_positive * self.negative_ratio)
        neg_books, neg_links = self.negatives.sample(rng, n_neg)
        books = np.concatenate([self.pairs[chosen, 0], neg_books])
        links = np.concatenate([self.pairs[chosen, 1], neg_links])
        labels = np.concatenate([np.ones(self.n_positive, np.float32), np.full(n_neg, self.negative_label, np.float32)])
        shuffle = rng.permutation(len(labels))
        return Batch(books[shuffle], links[shuffle], labels[shuffle])
