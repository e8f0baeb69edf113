"""The books a version serves: its indexed rows plus the folded-in ones of its overlay, searched as one.

Rows 0..n-1 are the version's (VectorIndex: Annoy or exact), rows n..n+m-1 the overlay's (m is small: an exact
scan). A version row whose book was folded again after an edit of its links is shadowed: never found, never
returned, and its id resolves to the overlay row. A search asks the index for k results past the shadowed rows,
scans the overlay, and merges both lists by cosine. Only numpy: web processes import it.
"""

from collections.abc import Iterable, Sequence

import numpy as np

from embeddings.overlay import Overlay
from embeddings.search import VectorIndex, _best, normalise, rows_one_by_one


class StackedRows:
    """Read-only rows of two matrices as one (the version's memory map is never copied)."""

    def __init__(self, base: np.ndarray, extra: np.ndarray) -> None:
        self.base, self.extra = base, extra
        self.n = len(base)
        self.shape = (self.n + len(extra), base.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: object) -> np.ndarray:
        if isinstance(index, int | np.integer):
            row = int(index)
            return np.asarray(self.base[row] if row < self.n else self.extra[row - self.n], dtype=np.float32)
        rows = np.asarray(index, dtype=np.int64)
        if not len(self.extra):  # no overlay (most versions): the version's rows, without the masks below
            return np.asarray(self.base[rows], dtype=np.float32)
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        low = rows < self.n
        out[low] = self.base[rows[low]]
        out[~low] = self.extra[rows[~low] - self.n]
        return out

    def __matmul__(self, query: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(self.base @ query), self.extra @ query])


class BookSpace:
    """A version's book index with its overlay: the same calls LoadedVersion makes on a VectorIndex."""

    def __init__(self, base: VectorIndex, overlay: Overlay) -> None:
        self.base = base
        self.overlay = overlay
        self.n = len(base)
        self.vectors = StackedRows(base.vectors, overlay.vectors)
        shadowed = [base.row_of_id(i) for i in overlay.book_ids if i in base]
        self.hidden = np.array(sorted(shadowed), dtype=np.int64)
        self._hidden = set(shadowed)

    def __len__(self) -> int:
        return self.n + len(self.overlay)

    @property
    def dim(self) -> int:
        return self.base.dim

    def __contains__(self, book_id: object) -> bool:
        return book_id in self.overlay or book_id in self.base

    def row_of_id(self, book_id: int) -> int:
        row = self.overlay.row_of_id(book_id)
        return self.n + row if row is not None else self.base.row_of_id(book_id)

    def rows_of_ids(self, book_ids: Sequence[int]) -> tuple[list[int], list[int]]:
        """As VectorIndex.rows_of_ids, the overlay's books first."""
        if not len(self.overlay):
            return self.base.rows_of_ids(book_ids)
        return rows_one_by_one(self, book_ids)

    def id_of_row(self, row: int) -> int:
        return int(self.overlay.book_ids[row - self.n]) if row >= self.n else self.base.id_of_row(row)

    def ids_of_rows(self, rows: list[int]) -> list[int]:
        if all(row < self.n for row in rows):
            return self.base.ids_of_rows(rows)
        return [self.id_of_row(row) for row in rows]

    def is_folded(self, row: int) -> bool:
        return row >= self.n

    def vector(self, row: int) -> np.ndarray:
        return self.vectors[int(row)]

    def nearest_to_row(self, row: int, k: int, exclude_rows: Iterable[int] = ()) -> list[tuple[int, float]]:
        return self._search(self.vector(row), k, {int(row), *map(int, exclude_rows)}, "own")

    def nearest_to_vector(
        self, vec: np.ndarray, k: int, exclude_rows: Iterable[int] = (), queries: str | None = None
    ) -> list[tuple[int, float]]:
        return self._search(normalise(vec), k, set(map(int, exclude_rows)), queries)

    def _search(self, query: np.ndarray, k: int, exclude: set[int], queries: str | None) -> list[tuple[int, float]]:
        found = self.base._search(query, k, {r for r in exclude if r < self.n} | self._hidden, queries)
        if not len(self.overlay):
            return found
        scores = self.overlay.vectors @ query
        rows = np.array([r for r in range(len(scores)) if self.n + r not in exclude], dtype=np.int64)
        extra = _best(rows + self.n, scores[rows], k) if len(rows) else []
        merged = found + extra
        merged.sort(key=lambda item: (-item[1], item[0]))
        return merged[:k]
