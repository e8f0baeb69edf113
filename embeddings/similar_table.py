"""Every trained book's `similar` answer, computed once in the worker: serving it is a row lookup.

`similar` ranks the embedding's and TF-IDF's nearest books by the blend of embeddings/hybrid.py. For any k up to
hybrid.CANDIDATES the candidates, their scores and so the ranking are the same (Blend.nearest takes the top
CANDIDATES of each signal whatever k is), so the answer for k is the first k of the answer for CANDIDATES. Computed
live, it scans every book vector and the posting lists of the book's links: about 3.5 ms for 37,020 books, most
of a web worker's budget. The worker writes the table beside the vectors (`similar_rows.npy`, `similar_scores.npy`:
rows x CANDIDATES, -1 past a short answer); web processes memory-map it.

The table holds the version's own books. LoadedVersion answers live when k is larger, or when a fold-in overlay
adds books (they could enter any answer) or hides some.
"""

from pathlib import Path

import numpy as np

from embeddings.hybrid import CANDIDATES, Blend
from embeddings.search import exact_top_k

ROWS_FILE = "similar_rows.npy"
SCORES_FILE = "similar_scores.npy"
CHUNK = 1024  # query rows per matrix product: a 1,024 x 37,020 float32 block is 150 MB


def write(folder: Path, blend: Blend) -> int:
    """Compute every row's answer with `blend` and save the table in `folder`; returns its width."""
    n = len(blend.vectors)
    width = min(CANDIDATES, max(n - 1, 0))
    rows = np.full((n, width), -1, dtype=np.int32)
    scores = np.zeros((n, width), dtype=np.float32)
    vectors = np.asarray(blend.vectors, dtype=np.float32)
    for start in range(0, n, CHUNK):
        block = np.arange(start, min(start + CHUNK, n))
        # the embedding's candidates of a whole block at once (BLAS), as Blend.nearest would find them one by one
        nearest = exact_top_k(vectors, vectors[block], min(width, n - 1), self_rows=block) if width else None
        for i, row in enumerate(block):
            answer = blend.nearest(int(row), width, embedding_rows=nearest[i]) if width else []
            rows[row, : len(answer)] = [r for r, _ in answer]
            scores[row, : len(answer)] = [s for _, s in answer]
    np.save(Path(folder) / ROWS_FILE, rows)
    np.save(Path(folder) / SCORES_FILE, scores)
    return width


class SimilarTable:
    """A version's table, memory-mapped (shared by every process on the host)."""

    def __init__(self, rows: np.ndarray, scores: np.ndarray) -> None:
        # plain ndarray views of the maps: slicing a np.memmap costs a Python-level __array_finalize__ per slice
        self.rows = np.asarray(rows)
        self.scores = np.asarray(scores)

    @classmethod
    def open(cls, folder: Path) -> "SimilarTable | None":
        folder = Path(folder)
        if not (folder / ROWS_FILE).is_file() or not (folder / SCORES_FILE).is_file():
            return None  # a version from before the table: answered live
        return cls(np.load(folder / ROWS_FILE, mmap_mode="r"), np.load(folder / SCORES_FILE, mmap_mode="r"))

    @property
    def width(self) -> int:
        return self.rows.shape[1]

    def answer(self, row: int, k: int) -> list[tuple[int, float]] | None:
        """The first k (row, score) of the row's answer; None when the table cannot say (k beyond its width)."""
        if k > self.width or not 0 <= row < len(self.rows):
            return None
        found = self.rows[row, :k]
        kept = found >= 0
        return list(zip(found[kept].tolist(), self.scores[row, :k][kept].tolist(), strict=True))
