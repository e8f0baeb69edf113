"""Folded-in books of a version, kept beside it: the version folder itself never changes.

    ARTIFACTS_DIR/overlays/<version id>/overlay.npz    replaced as a whole with os.replace (atomic)
    ARTIFACTS_DIR/overlays/<version id>/.lock          writers take it (fcntl.flock): read, change, replace

overlay.npz holds
    book_ids      int64 (m,)         catalogue ids of the folded books, ascending
    vectors       float32 (m, dim)   their unit vectors
    link_indptr   int64 (m + 1,)     CSR-style: book i's known links are link_rows[link_indptr[i]:link_indptr[i+1]]
    link_rows     int32              the served blend's TF-IDF columns of the book: rows of the version's link
                                     table, then n_links + j for its rare link j (embeddings/rare_links.py)
    info          str (JSON)         {"generation": n, "version": id, "books": {"<id>": {unknown_links, ...}}}
                                     each book's info holds its normalised "author" and "series" (the served
                                     ranking's groups, embeddings/book_groups.py)
A book of the version whose links were edited is folded again and shadows its trained row. Web processes stat the
file as they stat active.json and reload it when it changed (embeddings/serving.py); readers never take the lock
and always see a whole file. Only the standard library and numpy: web processes import this module.
"""

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embeddings.versions import version_path

OVERLAYS_DIR = "overlays"
OVERLAY_FILE = "overlay.npz"


def overlay_dir(root: Path, version_id: str) -> Path:
    version_path(root, version_id)  # refuses ids that are not a plain folder name
    return Path(root) / OVERLAYS_DIR / version_id


def overlay_file(root: Path, version_id: str) -> Path:
    return overlay_dir(root, version_id) / OVERLAY_FILE


def stamp(root: Path, version_id: str) -> tuple[int, int, int] | None:
    """(mtime, inode, size) of the overlay file, None when there is none: what web processes compare."""
    try:
        st = os.stat(overlay_file(root, version_id))
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_ino, st.st_size


@dataclass
class Overlay:
    """The folded books of one version (possibly none)."""

    version_id: str
    dim: int
    book_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    vectors: np.ndarray | None = None
    link_indptr: np.ndarray = field(default_factory=lambda: np.zeros(1, dtype=np.int64))
    link_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int32))
    books: dict[int, dict] = field(default_factory=dict)  # per book: unknown_links, n_links, author, series, ...
    generation: int = 0

    def __post_init__(self) -> None:
        if self.vectors is None:
            self.vectors = np.zeros((0, self.dim), dtype=np.float32)

    def __len__(self) -> int:
        return len(self.book_ids)

    def __contains__(self, book_id: object) -> bool:
        return self.row_of_id(book_id) is not None  # type: ignore[arg-type]

    def row_of_id(self, book_id: int) -> int | None:
        if not len(self.book_ids):  # the common case, asked for every result of every answer
            return None
        pos = int(np.searchsorted(self.book_ids, int(book_id)))
        return pos if pos < len(self.book_ids) and int(self.book_ids[pos]) == int(book_id) else None

    def links_of(self, row: int) -> np.ndarray:
        return self.link_rows[self.link_indptr[row] : self.link_indptr[row + 1]]

    def labels(self) -> tuple[list[str], list[str]]:
        """Each folded book's author and series, normalised as training's (embeddings/labels.py), in row order;
        '' when unknown (and for books folded before labels were kept: the blend alone ranks them)."""
        infos = [self.books.get(int(i), {}) for i in self.book_ids]
        return [str(x.get("author", "")) for x in infos], [str(x.get("series", "")) for x in infos]

    @classmethod
    def read(cls, root: Path, version_id: str, dim: int) -> "Overlay":
        """The overlay of a version; an empty one when none was written yet."""
        path = overlay_file(root, version_id)
        if not path.is_file():
            return cls(version_id, dim)
        with np.load(path, allow_pickle=False) as data:
            info = json.loads(str(data["info"]))
            vectors = np.asarray(data["vectors"], dtype=np.float32)
            if vectors.shape[1:] != (dim,):
                raise ValueError(f"{path}: vectors of {vectors.shape[1:]} dimensions, the version has {dim}")
            return cls(
                version_id=version_id,
                dim=dim,
                book_ids=np.asarray(data["book_ids"], dtype=np.int64),
                vectors=vectors,
                link_indptr=np.asarray(data["link_indptr"], dtype=np.int64),
                link_rows=np.asarray(data["link_rows"], dtype=np.int32),
                books={int(k): v for k, v in info.get("books", {}).items()},
                generation=int(info.get("generation", 0)),
            )

    def updated(self, folded: dict[int, tuple[np.ndarray, np.ndarray, dict]], removed: set[int]) -> "Overlay":
        """A new overlay with `folded` books (id -> (vector, link rows, info)) put in and `removed` ids taken out."""
        rows = {
            int(i): (self.vectors[r], self.links_of(r), self.books.get(int(i), {})) for r, i in enumerate(self.book_ids)
        }
        for book_id in removed:
            rows.pop(int(book_id), None)
        rows.update({int(k): v for k, v in folded.items()})
        ids = np.array(sorted(rows), dtype=np.int64)
        links = [np.asarray(rows[i][1], dtype=np.int32) for i in ids]
        return Overlay(
            version_id=self.version_id,
            dim=self.dim,
            book_ids=ids,
            vectors=np.stack([rows[i][0] for i in ids]).astype(np.float32) if len(ids) else None,
            link_indptr=np.concatenate([[0], np.cumsum([len(x) for x in links])]).astype(np.int64),
            link_rows=np.concatenate(links).astype(np.int32) if links else np.zeros(0, dtype=np.int32),
            books={int(i): rows[i][2] for i in ids},
            generation=self.generation + 1,
        )

    def write(self, root: Path) -> Path:
        """Write the whole overlay under a temporary name and rename it into place."""
        folder = overlay_dir(root, self.version_id)
        folder.mkdir(parents=True, exist_ok=True)
        info = {
            "version": self.version_id,
            "generation": self.generation,
            "books": {str(k): v for k, v in self.books.items()},
        }
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".overlay-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as handle:
                np.savez(
                    handle,
                    book_ids=self.book_ids,
                    vectors=self.vectors,
                    link_indptr=self.link_indptr,
                    link_rows=self.link_rows,
                    info=np.array(json.dumps(info, sort_keys=True)),
                )
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, folder / OVERLAY_FILE)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return folder / OVERLAY_FILE


@contextmanager
def locked(root: Path, version_id: str) -> Iterator[None]:
    """Exclusive for writers of one version's overlay (several workers may fold at once)."""
    folder = overlay_dir(root, version_id)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def change(
    root: Path, version_id: str, dim: int, folded: dict[int, tuple[np.ndarray, np.ndarray, dict]], removed: set[int]
) -> Overlay:
    """Read, change and replace a version's overlay under its lock; returns what was written."""
    with locked(root, version_id):
        current = Overlay.read(root, version_id, dim)
        removed = {int(i) for i in removed if int(i) in current}
        if not folded and not removed:
            return current
        new = current.updated(folded, removed)
        new.write(root)
        return new
