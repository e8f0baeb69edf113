"""The links a version dropped as rare, with the version's books that use them (`rare_links.npy`).

Training keeps only links used by at least min_link_count books (embeddings/dataset.py): the others have no
vector. But a new book's rare link is evidence the version can still use: had the book been in the training, the
link would have one more user and might have been kept, pulling the new book towards the books that share it,
mostly its author's and its series'. Two places use them for folded-in books, never for trained ones:

- fold-in (embeddings/fold_in.py) stands in for the missing link vector with the normalised mean of the vectors of
  the books that use the link, the direction training gives a link used by just those books;
- the served blend (embeddings/hybrid.py) gives each rare link a TF-IDF column after the version's own, so a folded
  book's TF-IDF row shares it with those books.

The file holds (book row, catalogue link id) pairs, int64. A version trained before it existed has none: its
folded books use their known links only. Only numpy: web processes import this module.
"""

from pathlib import Path

import numpy as np

RARE_LINKS_FILE = "rare_links.npy"


def save(folder: Path, rare_pairs: np.ndarray) -> None:
    np.save(Path(folder) / RARE_LINKS_FILE, np.asarray(rare_pairs, dtype=np.int64).reshape(-1, 2))


class RareLinks:
    """Rare link j (0 <= j < len(link_ids), ascending ids) is used by book_rows[starts[j]:starts[j + 1]]."""

    def __init__(self, rare_pairs: np.ndarray) -> None:
        pairs = np.asarray(rare_pairs, dtype=np.int64).reshape(-1, 2)
        pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]
        self.link_ids, starts = np.unique(pairs[:, 1], return_index=True)
        self.starts = np.append(starts, len(pairs)).astype(np.int64)
        self.book_rows = pairs[:, 0]

    @classmethod
    def open(cls, folder: Path) -> "RareLinks | None":
        path = Path(folder) / RARE_LINKS_FILE
        return cls(np.load(path)) if path.is_file() else None

    def __len__(self) -> int:
        return len(self.link_ids)

    def counts(self) -> np.ndarray:
        """How many of the version's books use each rare link."""
        return np.diff(self.starts)

    def find(self, link_ids: list[int] | np.ndarray) -> tuple[list[int], np.ndarray]:
        """(the given ids that are rare links here, in the order given; their indices j)."""
        ids = np.asarray(link_ids, dtype=np.int64).ravel()
        if not len(self.link_ids) or not len(ids):
            return [], np.zeros(0, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.link_ids, ids), len(self.link_ids) - 1)
        found = self.link_ids[at] == ids
        return ids[found].tolist(), at[found]

    def books_of(self, j: int) -> np.ndarray:
        return self.book_rows[self.starts[j] : self.starts[j + 1]]

    def vectors(self, indices: np.ndarray, book_vectors: np.ndarray) -> np.ndarray:
        """A unit vector for each rare link: the normalised mean of its books' vectors."""
        dim = book_vectors.shape[1]
        out = np.zeros((len(indices), dim))
        for i, j in enumerate(np.asarray(indices).tolist()):
            mean = np.asarray(book_vectors[np.sort(self.books_of(j))], dtype=np.float64).mean(axis=0)
            out[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        return out
