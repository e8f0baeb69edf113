"""Training data for the link embeddings: integer-coded (book, link) pairs plus what evaluation needs.

Pure numpy/pandas: no TensorFlow, no Django. Web processes do not import it (pandas alone costs them tens of MB):
the label rules they need are in embeddings/labels.py.
"""

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from embeddings.labels import normalise_author, normalise_genres, normalise_series


def default_min_link_count(n_books: int) -> int:
    """Links kept = links used by at least this many books.

    2 on small catalogues, rising to the original project's 4 at its 37,020 books: ceil(n_books / 10,000)
    clipped to [2, 4]. On the 1,780-book Wikipedia sample (50 epochs, lr 0.01, split seed 0) min count 2/3/4
    gave same-author recall@10 0.717/0.643/0.590 and genre precision@10 0.336/0.334/0.344: 2 keeps the small
    shared links (authors, series) that place books together; 4 scores better on held-out link AUC only
    because the rare links it drops are the hard ones to predict. Re-run: benchmarks/train_quality.py
    --min-counts 2 3 4. A count of 1 would only add links no other book shares.
    """
    return int(np.clip(np.ceil(n_books / 10_000), 2, 4))


@dataclass
class TrainingData:
    book_ids: np.ndarray  # int64 catalogue ids; row i of the book vectors is book_ids[i]
    link_ids: np.ndarray  # int64 catalogue ids; row j of the link vectors is link_ids[j]
    pairs: np.ndarray  # (n, 2) int32 (book index, link index), unique, sorted
    book_genres: list[frozenset[str]]
    book_authors: np.ndarray  # object array of normalised author names, '' unknown
    min_link_count: int = 1
    book_series: np.ndarray | None = None  # object array of normalised series names, '' none (None: not known)
    # (book row, catalogue link id) of the links dropped as used by fewer than min_link_count books (fold-in uses
    # them: embeddings/rare_links.py); None when not known
    rare_pairs: np.ndarray | None = None

    @property
    def n_books(self) -> int:
        return len(self.book_ids)

    @property
    def n_links(self) -> int:
        return len(self.link_ids)

    @property
    def n_pairs(self) -> int:
        return len(self.pairs)

    def with_pairs(self, pairs: np.ndarray) -> "TrainingData":
        """Same vocabulary, other pairs (the evaluation split trains on a subset)."""
        return TrainingData(
            book_ids=self.book_ids,
            link_ids=self.link_ids,
            pairs=np.ascontiguousarray(pairs, dtype=np.int32),
            book_genres=self.book_genres,
            book_authors=self.book_authors,
            min_link_count=self.min_link_count,
            book_series=self.book_series,
            rare_pairs=self.rare_pairs,
        )

    def summary(self) -> dict[str, int]:
        return {
            "n_books": self.n_books,
            "n_links": self.n_links,
            "n_pairs": self.n_pairs,
            "min_link_count": self.min_link_count,
        }


def build_training_data(books: pd.DataFrame, pairs: pd.DataFrame, min_link_count: int | None = None) -> TrainingData:
    """books: columns id, title, author, genre (and series when the catalogue has it); pairs: columns book_id,
    link_id (duplicates allowed).

    Keeps links used by >= min_link_count books, then the books that still have a link; codes both to rows.
    """
    known = pairs[pairs["book_id"].isin(books["id"])]
    edges = known[["book_id", "link_id"]].drop_duplicates().to_numpy(dtype=np.int64)
    if min_link_count is None:
        min_link_count = default_min_link_count(int(np.unique(edges[:, 0]).size) if len(edges) else 0)

    link_values, link_counts = np.unique(edges[:, 1], return_counts=True)
    link_ids = link_values[link_counts >= min_link_count]
    kept = np.isin(edges[:, 1], link_ids)
    rare, edges = edges[~kept], edges[kept]
    book_ids = np.unique(edges[:, 0])
    rare = rare[np.isin(rare[:, 0], book_ids)]  # of the books that stay
    rare_pairs = np.stack([np.searchsorted(book_ids, rare[:, 0]), rare[:, 1]], axis=1).astype(np.int64)

    book_rows = np.searchsorted(book_ids, edges[:, 0])
    link_rows = np.searchsorted(link_ids, edges[:, 1])
    coded = np.stack([book_rows, link_rows], axis=1).astype(np.int32)
    coded = coded[np.lexsort((coded[:, 1], coded[:, 0]))]

    info = books.drop_duplicates("id").set_index("id").reindex(book_ids)
    genres = [normalise_genres(g) for g in info.get("genre", pd.Series(index=info.index, dtype=object))]
    authors = np.array([normalise_author(a) for a in info.get("author", pd.Series(index=info.index))], dtype=object)
    series = None
    if "series" in info:
        series = np.array([normalise_series(s) for s in info["series"]], dtype=object)
    return TrainingData(
        book_ids=book_ids.astype(np.int64),
        link_ids=link_ids.astype(np.int64),
        pairs=coded,
        book_genres=genres,
        book_authors=authors,
        min_link_count=int(min_link_count),
        book_series=series,
        rare_pairs=rare_pairs,
    )


def frames_from_records(records: Iterable[object]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Source records (recommender.catalogue.sources.BookRecord) to (books, pairs) frames with synthetic ids.

    Books are numbered 1.. in reading order (a repeated title keeps its first record), links 1.. in order of
    first use. Anything that is not a record with `title` and `links` (a BadRecord) is skipped.
    """
    book_rows: list[dict[str, object]] = []
    pair_books: list[int] = []
    pair_links: list[int] = []
    link_numbers: dict[str, int] = {}
    seen_titles: set[str] = set()
    for record in records:
        if isinstance(record, Exception) or not hasattr(record, "links"):
            continue
        if record.title in seen_titles:
            continue
        seen_titles.add(record.title)
        book_id = len(book_rows) + 1
        fields = record.fields or {}
        book_rows.append(
            {
                "id": book_id,
                "title": record.title,
                "author": fields.get("author", ""),
                "genre": fields.get("genre", ""),
                "series": fields.get("series", ""),
            }
        )
        for name in record.links:
            pair_books.append(book_id)
            pair_links.append(link_numbers.setdefault(name, len(link_numbers) + 1))
    books = pd.DataFrame(book_rows, columns=["id", "title", "author", "genre", "series"])
    pairs = pd.DataFrame(
        {"book_id": np.array(pair_books, dtype=np.int64), "link_id": np.array(pair_links, dtype=np.int64)}
    )
    return books, pairs
