"""A generated catalogue with the full public set's counts and the shape of real data, for serving benchmarks.

import_speed.write_full_scale_ndjson draws every book's links at random from one Zipf distribution: right for
timing an import, but it has no structure at all, so a model trained on it has none either, and every nearest-
neighbour index degenerates (Annoy had to inspect every row to find the true top 10). Real catalogues are made
of subjects, authors and series whose links overlap. This one is too, with the same counts (37,020 books, 41,758
links, 772,798 distinct pairs, every link used):

- subjects of Zipf-like sizes on a ring, each with its own links (Zipf popularity within the subject); a book
  draws most of its links from its subject and a few from a second one, usually a neighbour on the ring;
- authors writing within one subject (geometric numbers of books), each with an author link;
- series: a third of the authors with three books or more have one, with a series link and `series` infobox field;
- general links used across the whole catalogue (a country, a language), Zipf popularity.

    .venv/bin/python benchmarks/clustered_catalogue.py OUT.ndjson   # writes it and prints its counts
"""

import json
import sys
from pathlib import Path

import numpy as np
from import_speed import FULL_BOOKS, FULL_LINKS, FULL_PAIRS

SUBJECTS = 900
GENERAL_LINKS = 400
GENERAL_PER_BOOK = 2.5  # Poisson means of a book's draws from each kind of link
PRIMARY_PER_BOOK = 12.0
SECONDARY_PER_BOOK = 3.0
AUTHOR_BOOKS_P = 0.3  # geometric: authors write 1/0.3 = 3.3 books on average
SERIES_SHARE = 0.35  # of authors with 3 or more books


def _zipf(n: int, exponent: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1) ** exponent
    return weights / weights.sum()


def clustered_catalogue(seed: int = 0) -> tuple[list[dict], np.ndarray]:
    """(each book's infobox, sorted distinct (book, link) pairs) with exactly the full set's counts."""
    rng = np.random.default_rng(seed)
    subject_of = rng.choice(SUBJECTS, size=FULL_BOOKS, p=_zipf(SUBJECTS, 0.6))
    infoboxes: list[dict] = [{} for _ in range(FULL_BOOKS)]
    author_of = np.empty(FULL_BOOKS, dtype=np.int64)
    series_books: list[np.ndarray] = []
    authors = 0
    for subject in range(SUBJECTS):
        books = rng.permutation(np.flatnonzero(subject_of == subject))
        at = 0
        while at < len(books):
            written = books[at : at + rng.geometric(AUTHOR_BOOKS_P)]
            author_of[written] = authors
            if len(written) >= 3 and rng.random() < SERIES_SHARE:
                series_books.append(written[: rng.integers(3, min(len(written), 8) + 1)])
            authors += 1
            at += len(written)
    # Link ids: general, then one per author, one per series, the rest shared out among subjects by size.
    author_link0 = GENERAL_LINKS
    series_link0 = author_link0 + authors
    subject_link0 = series_link0 + len(series_books)
    sizes = np.bincount(subject_of, minlength=SUBJECTS).astype(np.float64) ** 0.8
    per_subject = np.maximum(5, np.floor(sizes / sizes.sum() * (FULL_LINKS - subject_link0))).astype(np.int64)
    per_subject[np.argmax(per_subject)] += FULL_LINKS - subject_link0 - per_subject.sum()
    subject_start = subject_link0 + np.concatenate([[0], np.cumsum(per_subject)[:-1]])

    parts = [np.stack([np.arange(FULL_BOOKS), author_link0 + author_of], axis=1)]
    for number, books in enumerate(series_books):
        parts.append(np.stack([books, np.full(len(books), series_link0 + number)], axis=1))
    general = rng.poisson(GENERAL_PER_BOOK, FULL_BOOKS)
    general_links = rng.choice(GENERAL_LINKS, general.sum(), p=_zipf(GENERAL_LINKS, 1.0))
    parts.append(np.stack([np.repeat(np.arange(FULL_BOOKS), general), general_links], axis=1))
    neighbour = (subject_of + rng.choice([-2, -1, 1, 2], FULL_BOOKS)) % SUBJECTS
    far = rng.random(FULL_BOOKS) < 0.3
    second_subject = np.where(far, rng.integers(0, SUBJECTS, FULL_BOOKS), neighbour)
    for subjects, mean in ((subject_of, PRIMARY_PER_BOOK), (second_subject, SECONDARY_PER_BOOK)):
        parts.append(_subject_draws(rng, subjects, mean, per_subject, subject_start))
    pairs = np.unique(np.concatenate(parts).astype(np.int64), axis=0)
    pairs = _every_link_used(rng, pairs, subject_of, per_subject, subject_start)
    pairs = _exact_count(rng, pairs, subject_of, per_subject, subject_start)

    for book in range(FULL_BOOKS):
        infoboxes[book] = {
            "author": f"Author {author_of[book]}",
            "genre": f"Genre {subject_of[book] % 60}",
            "country": "United Kingdom",
        }
    for number, books in enumerate(series_books):
        for volume, book in enumerate(books, start=1):
            infoboxes[book]["series"] = f"Series {number} #{volume}"
    return infoboxes, pairs


def _subject_draws(
    rng: np.random.Generator, subjects: np.ndarray, mean: float, per_subject: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """Poisson(mean) links per book from its subject's links, Zipf popularity within the subject."""
    counts = rng.poisson(mean, len(subjects))
    books = np.repeat(np.arange(len(subjects)), counts)
    chosen = subjects[books]
    # inverse CDF of a Zipf(0.9) over each subject's n links, vectorised: rank = floor(n ** u) - 1 approximates it
    n = per_subject[chosen]
    rank = np.minimum(np.floor(n.astype(np.float64) ** rng.random(len(books))).astype(np.int64) - 1, n - 1)
    return np.stack([books, start[chosen] + np.maximum(rank, 0)], axis=1)


def _every_link_used(
    rng: np.random.Generator, pairs: np.ndarray, subject_of: np.ndarray, per_subject: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """A pair for every link no book drew: a random book of the link's subject (general links: any book)."""
    unused = np.setdiff1d(np.arange(FULL_LINKS), pairs[:, 1])
    subject_of_link = np.searchsorted(start, unused, side="right") - 1
    added = []
    for link, subject in zip(unused.tolist(), subject_of_link.tolist(), strict=True):
        members = np.flatnonzero(subject_of == subject) if subject >= 0 else np.arange(FULL_BOOKS)
        added.append((int(rng.choice(members)), link))
    if not added:
        return pairs
    return np.unique(np.concatenate([pairs, np.array(added, dtype=np.int64)]), axis=0)


def _exact_count(
    rng: np.random.Generator, pairs: np.ndarray, subject_of: np.ndarray, per_subject: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """Top up with more subject draws, or drop pairs of well-used links and books, until there are FULL_PAIRS."""
    while len(pairs) < FULL_PAIRS:
        extra = _subject_draws(rng, subject_of, 0.5, per_subject, start)
        codes = np.setdiff1d(extra[:, 0] * FULL_LINKS + extra[:, 1], pairs[:, 0] * FULL_LINKS + pairs[:, 1])
        codes = rng.permutation(codes)[: FULL_PAIRS - len(pairs)]
        pairs = np.unique(np.concatenate([pairs, np.stack([codes // FULL_LINKS, codes % FULL_LINKS], 1)]), axis=0)
    if len(pairs) > FULL_PAIRS:
        link_uses = np.bincount(pairs[:, 1], minlength=FULL_LINKS)
        book_uses = np.bincount(pairs[:, 0], minlength=FULL_BOOKS)
        removable = np.flatnonzero((link_uses[pairs[:, 1]] >= 20) & (book_uses[pairs[:, 0]] >= 10))
        dropped = rng.choice(removable, len(pairs) - FULL_PAIRS, replace=False)
        pairs = np.delete(pairs, dropped, axis=0)
    return pairs


def write_clustered_ndjson(path: Path, seed: int = 0) -> int:
    """The catalogue as the importer's ndjson (the format of import_speed.write_full_scale_ndjson); returns pairs."""
    infoboxes, pairs = clustered_catalogue(seed)
    bounds = np.searchsorted(pairs[:, 0], np.arange(FULL_BOOKS + 1))
    with open(path, "w") as out:
        for book in range(FULL_BOOKS):
            links = [f"Link {link}" for link in pairs[bounds[book] : bounds[book + 1], 1].tolist()]
            out.write(json.dumps([f"Book {book}", infoboxes[book], links, [], "2018-09-01T00:00:00Z", 1000]))
            out.write("\n")
    return len(pairs)


if __name__ == "__main__":
    target = Path(sys.argv[1])
    written = write_clustered_ndjson(target)
    print(f"{target}: {FULL_BOOKS} books, {written} pairs")
