"""The explicit groups a book belongs to, its author and its series, as integer codes per version row.

The served `similar` ranking (embeddings/hybrid.py) puts books of the query's series and by its author first among
its candidates: readers expect the next volume and the same author's other books among "books like this one", and
the link graph only implies them (a series' volumes often share few links with each other). Codes are written per
version (`book_groups.npz`, from the catalogue the version was trained on) so that web processes, the similar
table and evaluation rank with the same groups. Books folded in later carry their own author and series in the
overlay (embeddings/overlay.py); `extended` appends them as rows past the version's, so a folded book gets its
series and author first and a trained book's answer can hold a folded sibling. Only numpy: web processes import
this module.

    book_groups.npz
      author_codes, series_codes   int32 (n_books,), -1: none
      author_names, series_names   str, the code's normalised name (codes index them)
"""

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GROUPS_FILE = "book_groups.npz"
# Author values that name no one author: grouping by them would recommend unrelated books to each other.
NO_AUTHOR = frozenset(
    {
        "anonymous",
        "anon.",
        "anon",
        "unknown",
        "various",
        "various authors",
        "various artists",
        "multiple authors",
        "several authors",
        "n/a",
        "none",
    }
)


def group_codes(labels: np.ndarray | None, n_books: int, ignore: frozenset[str] = frozenset()) -> tuple:
    """(codes, names): an int32 code per book into the sorted distinct names, -1 for '' and ignored labels."""
    if labels is None:
        return np.full(n_books, -1, dtype=np.int32), np.zeros(0, dtype=str)
    labels = np.asarray(labels, dtype=object).astype(str)
    names, codes = np.unique(labels, return_inverse=True)
    codes = codes.astype(np.int32)
    unknown = np.isin(labels, ["", *ignore])
    codes[unknown] = -1
    return codes, names


class _Members:
    """Rows of each code, CSR-style: rows of code c are order[starts[c]:starts[c + 1]]."""

    def __init__(self, codes: np.ndarray, n_codes: int) -> None:
        self.codes = codes
        self.order = np.argsort(codes, kind="stable").astype(np.int64)
        self.starts = np.searchsorted(codes[self.order], np.arange(n_codes + 1))

    def of(self, row: int) -> np.ndarray:
        if row >= len(self.codes) or self.codes[row] < 0:
            return np.zeros(0, dtype=np.int64)
        code = self.codes[row]
        return self.order[self.starts[code] : self.starts[code + 1]]

    def same(self, row: int, rows: np.ndarray) -> np.ndarray:
        """Which of `rows` share `row`'s code (rows past those coded share nothing)."""
        if row >= len(self.codes) or self.codes[row] < 0:
            return np.zeros(len(rows), dtype=bool)
        inside = rows < len(self.codes)
        out = np.zeros(len(rows), dtype=bool)
        out[inside] = self.codes[rows[inside]] == self.codes[row]
        return out


@dataclass
class BookGroups:
    author_codes: np.ndarray
    series_codes: np.ndarray
    author_names: np.ndarray
    series_names: np.ndarray

    def __post_init__(self) -> None:
        self.authors = _Members(self.author_codes, len(self.author_names))
        self.series = _Members(self.series_codes, len(self.series_names))

    @classmethod
    def from_labels(cls, authors: np.ndarray | None, series: np.ndarray | None, n_books: int) -> "BookGroups":
        """From TrainingData.book_authors / book_series (normalised names, '' unknown)."""
        author_codes, author_names = group_codes(authors, n_books, NO_AUTHOR)
        series_codes, series_names = group_codes(series, n_books)
        return cls(author_codes, series_codes, author_names, series_names)

    def save(self, folder: Path) -> None:
        np.savez(
            Path(folder) / GROUPS_FILE,
            author_codes=self.author_codes,
            series_codes=self.series_codes,
            author_names=self.author_names.astype(str),
            series_names=self.series_names.astype(str),
        )

    @classmethod
    def open(cls, folder: Path) -> "BookGroups | None":
        path = Path(folder) / GROUPS_FILE
        if not path.is_file():
            return None  # a version from before explicit groups: the blend alone
        with np.load(path, allow_pickle=False) as files:
            return cls(files["author_codes"], files["series_codes"], files["author_names"], files["series_names"])

    def extended(self, authors: Sequence[str], series: Sequence[str]) -> "BookGroups":
        """These groups over the version's rows followed by one row per label (folded-in books, labels normalised as
        from_labels' are): a name the version knows joins its group, a new name is a new group."""
        author_codes, author_names = _extend(self.author_codes, self.author_names, authors, NO_AUTHOR)
        series_codes, series_names = _extend(self.series_codes, self.series_names, series, frozenset())
        return BookGroups(author_codes, series_codes, author_names, series_names)

    def members(self, row: int) -> np.ndarray:
        """The other books of `row`'s series and by its author (rows of the version)."""
        rows = np.union1d(self.series.of(row), self.authors.of(row))
        return rows[rows != row]


def _extend(codes: np.ndarray, names: np.ndarray, labels: Sequence[str], ignore: frozenset[str]) -> tuple:
    code_of = {str(name): code for code, name in enumerate(names)}
    labels = [str(label) for label in labels]
    new = sorted({label for label in labels if label and label not in ignore and label not in code_of})
    code_of.update({name: len(names) + i for i, name in enumerate(new)})
    extra = np.array([code_of[label] if label and label not in ignore else -1 for label in labels], dtype=np.int32)
    all_names = np.concatenate([np.asarray(names, dtype=str), np.array(new, dtype=str)]) if new else names
    return np.concatenate([codes, extra]).astype(np.int32), all_names
