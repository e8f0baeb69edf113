"""The active model version as web processes see it: loaded once, swapped when active.json changes, no restart.

    version = get_active(settings.ARTIFACTS_DIR)      # LoadedVersion, or None when nothing is active
    version = require_active(settings.ARTIFACTS_DIR)  # same, but raises NoActiveVersion
    version.similar_books(book_id, k)                 # [(book_id, cosine similarity), ...] best first

Each call costs at most one os.stat of active.json per CHECK_INTERVAL seconds; when its (mtime, inode, size)
changed, the pointed-to version is opened (memory maps only, so it is quick) and replaces the old one. Requests
already holding the old LoadedVersion finish on it: version folders are immutable, so nothing changes under them.

Books folded in after training live in the version's overlay (embeddings/overlay.py): the same check stats its
file, and when it changed a new LoadedVersion with the new overlay replaces the old one the same way. Searches for
books cover the version's rows and the overlay's together (embeddings/book_space.py).

Only the standard library, numpy and annoy are imported here (never TensorFlow, Keras or UMAP).
"""

import json
import logging
import os
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from embeddings import integrity, overlay, versions
from embeddings.book_space import BookSpace
from embeddings.hybrid import Blend
from embeddings.link_votes import LinkVotes
from embeddings.search import VectorIndex, normalise
from embeddings.similar_table import SimilarTable

logger = logging.getLogger(__name__)

CHECK_INTERVAL = 0.5  # seconds between stats of active.json
TRAIN_COMMAND = "python manage.py train --wait"  # what every "no model yet" message tells the reader to run
RETRY_AFTER = 5.0  # seconds before a version that failed to load is tried again (its files may be repaired)
DISLIKE_WEIGHT = 0.5
_VOTES_LOCK = threading.Lock()


class NoActiveVersion(RuntimeError):
    """No model version can be served: none trained yet (damaged False), or the active one is missing or broken."""

    def __init__(self, message: str, damaged: bool = False) -> None:
        super().__init__(message)
        self.damaged = damaged


class UnknownId(KeyError):
    """Catalogue ids that the active version has no vector for (not in the catalogue, or filtered out in training)."""

    def __init__(self, kind: str, ids: Sequence[int]) -> None:
        self.kind = kind
        self.ids = list(ids)
        super().__init__(f"unknown {kind} ids: {', '.join(map(str, self.ids))}")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


@dataclass
class LoadedVersion:
    """One published version, opened for searching. Every operation excludes its inputs from the results."""

    version_id: str
    folder: Path
    books: VectorIndex
    links: VectorIndex
    metrics: dict = field(default_factory=dict)
    index_info: dict = field(default_factory=dict)
    blend: Blend | None = None  # None for versions trained before book_tfidf.npz existed: embedding alone
    space: BookSpace | None = None  # books plus the overlay's folded-in books (set by open / with_overlay)
    base_blend: Blend | None = None  # the blend over the version's own rows (with_overlay starts from it)
    similar_table: SimilarTable | None = None  # every trained book's `similar` answer; None before tables existed
    # link_votes.npz, opened on the first books_for_link and shared with overlays: {"votes": LinkVotes | None}
    _link_votes: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.space is None:
            self.space = BookSpace(self.books, overlay.Overlay(self.version_id, self.books.dim))
            self.base_blend = self.blend

    def with_overlay(self, folded: overlay.Overlay) -> "LoadedVersion":
        """This version serving `folded` as its folded-in books (a new object: requests on this one finish here)."""
        space = BookSpace(self.books, folded)
        blend = self.base_blend
        if blend is not None and len(folded):
            authors, series = folded.labels()
            blend = blend.with_overlay(
                space.vectors, folded.link_indptr, folded.link_rows, space.hidden, authors, series
            )
        return replace(self, space=space, blend=blend)

    @property
    def overlay(self) -> overlay.Overlay:
        return self.space.overlay

    @property
    def cache_key(self) -> str:
        """Names what answers come from: the version and its overlay's generation (a fold-in changes it)."""
        generation = self.overlay.generation
        return self.version_id if not generation else f"{self.version_id}.{generation}"

    def is_folded_in(self, book_id: int) -> bool:
        return book_id in self.overlay

    def knows_book(self, book_id: int) -> bool:
        return book_id in self.space

    @classmethod
    def open(cls, folder: Path) -> "LoadedVersion":
        folder = Path(folder)
        damage = integrity.problems(folder, versions.REQUIRED_FILES)
        if damage:
            raise versions.VersionError(f"version {folder.name} cannot be served: {'; '.join(damage)}")
        index_path = folder / "index.json"
        books = VectorIndex(folder, "book")
        return cls(
            version_id=folder.name,
            folder=folder,
            books=books,
            links=VectorIndex(folder, "link"),
            metrics=versions.read_json(folder / "metrics.json"),
            index_info=versions.read_json(index_path) if index_path.is_file() else {},
            blend=Blend.open(folder, books.vectors),
            similar_table=SimilarTable.open(folder),
        )

    def similar_books(self, book_id: int, k: int = 10) -> list[tuple[int, float]]:
        """The k books most like one book: the blend of embeddings/hybrid.py (the ranking evaluation scores as
        "served"), with its blended score; the embedding's cosine alone for versions without the TF-IDF file.
        Looked up in the version's similar table (embeddings/similar_table.py) when it holds the answer."""
        books = self.space
        row = _rows(books, "book", [book_id])[0]
        if self.similar_table is not None and not len(self.overlay):  # folded-in books could enter any answer
            answer = self.similar_table.answer(row, k)
            if answer is not None:
                return _to_ids(books, answer)
        if self.blend is None:
            return _to_ids(books, books.nearest_to_row(row, k))
        candidates = [r for r, _ in books.nearest_to_row(row, max(k, self.blend.candidates))]
        return _to_ids(books, self.blend.nearest(row, k, embedding_rows=np.asarray(candidates, dtype=np.int64)))

    def similar_links(self, link_id: int, k: int = 10) -> list[tuple[int, float]]:
        row = _rows(self.links, "link", [link_id])[0]
        return _to_ids(self.links, self.links.nearest_to_row(row, k))

    def books_for_link(self, link_id: int, k: int = 10) -> list[tuple[int, float]]:
        """Books by the served link score of embeddings/link_votes.py (the ranking evaluation scores as "served"):
        the cosine between book and link vectors plus the votes of each book's TF-IDF neighbours that use the link.
        Versions from before link_votes.npz rank by the cosine alone; folded-in books get no votes (they are
        nobody's neighbour in the version's matrix) and score their cosine."""
        row = _rows(self.links, "link", [link_id])[0]
        vector = normalise(self.links.vector(row))
        nearest = self.space.nearest_to_vector(vector, k, queries="cross")
        votes = self.link_votes()
        if votes is None:
            return _to_ids(self.space, nearest)
        embedding_rows = np.asarray([r for r, _ in nearest], dtype=np.int64)
        found = votes.books_for_link(row, vector, self.space.vectors, embedding_rows, k, exclude_rows=self.space.hidden)
        return _to_ids(self.space, found)

    def link_votes(self) -> LinkVotes | None:
        if "votes" not in self._link_votes:
            with _VOTES_LOCK:
                if "votes" not in self._link_votes:
                    blend = self.base_blend
                    self._link_votes["votes"] = None if blend is None else LinkVotes.open(self.folder, blend.tfidf_t)
        return self._link_votes["votes"]

    def recommend(
        self, liked_ids: Iterable[int], disliked_ids: Iterable[int] = (), k: int = 10
    ) -> list[tuple[int, float]]:
        """Books for a reader who liked and disliked some books (catalogue book ids).

        Rule: L = normalise(mean of liked vectors), D = normalise(mean of disliked vectors), each 0 when its list
        is empty; query q = normalise(L - DISLIKE_WEIGHT * D) and the k books nearest to q are returned.
        - Normalising the two means first keeps the push at a fixed fraction of the pull however spread the liked
          books are; because |L| = 1 > DISLIKE_WEIGHT, q never vanishes when anything is liked.
        - Only dislikes: q = -D, the books least like the disliked ones. It is a weak signal, but it honours the
          request and follows from the same formula; views that prefer popular books can check for likes first.
        - Nothing at all: ValueError. An id both liked and disliked: ValueError. Duplicates count once.
        Liked and disliked books never appear in the results. Unknown ids raise UnknownId listing all of them.
        """
        liked = list(dict.fromkeys(liked_ids))
        disliked = list(dict.fromkeys(disliked_ids))
        if not liked and not disliked:
            raise ValueError("recommend needs at least one liked or disliked book")
        both = set(liked) & set(disliked)
        if both:
            raise ValueError(f"books both liked and disliked: {sorted(both)}")
        books = self.space
        rows = _rows(books, "book", liked + disliked)
        liked_rows, disliked_rows = rows[: len(liked)], rows[len(liked) :]
        # zeros + L is L (a -0.0 becomes 0.0, which no product sees): likes alone skip the sum
        query = normalise(_mean(books.vectors[sorted(liked_rows)])) if liked_rows else np.zeros(books.dim, np.float32)
        if disliked_rows:
            query = query - DISLIKE_WEIGHT * normalise(_mean(books.vectors[sorted(disliked_rows)]))
        # the "reader" query set is tuned on means of liked books; a query pushed away from dislikes is not one
        kind = "reader" if not disliked_rows else None
        return _to_ids(books, books.nearest_to_vector(query, k, exclude_rows=rows, queries=kind))


def _mean(rows: np.ndarray) -> np.ndarray:
    """np.mean(rows, axis=0) to the bit (its float32 sum divided by the count), without its Python-level wrappers."""
    return np.add.reduce(rows, axis=0) / len(rows)


def _rows(index: VectorIndex | BookSpace, kind: str, catalogue_ids: Sequence[int]) -> list[int]:
    rows, unknown = index.rows_of_ids(catalogue_ids)
    if unknown:
        raise UnknownId(kind, unknown)
    return rows


def _to_ids(index: VectorIndex | BookSpace, found: list[tuple[int, float]]) -> list[tuple[int, float]]:
    ids = index.ids_of_rows([row for row, _ in found])
    return [(book_id, similarity) for book_id, (_, similarity) in zip(ids, found, strict=True)]


class ActiveModel:
    """Keeps the active version of one ARTIFACTS_DIR loaded; thread-safe, reloads when active.json changes."""

    def __init__(self, artifacts_dir: Path, check_interval: float = CHECK_INTERVAL) -> None:
        self.root = Path(artifacts_dir)
        self.check_interval = check_interval
        self._lock = threading.Lock()
        self._loaded: LoadedVersion | None = None
        self._stamp: tuple[int, int, int] | None = None
        self._checked_at = float("-inf")
        self._active_id: str | None = None  # what active.json names (may differ from what is served)
        self._error: str | None = None  # why the version active.json names is not served
        self._failed_at = float("-inf")
        self._overlay_stamp: tuple[int, int, int] | None = None
        self._overlay_of: str | None = None  # the version whose overlay _overlay_stamp describes

    def get(self) -> LoadedVersion | None:
        now = time.monotonic()
        if now - self._checked_at < self.check_interval:
            return self._loaded  # the common case: no lock, no system call
        with self._lock:
            if time.monotonic() - self._checked_at >= self.check_interval:
                self._refresh()
                self._refresh_overlay()
                self._checked_at = time.monotonic()
            return self._loaded

    def require(self) -> LoadedVersion:
        loaded = self.get()
        if loaded is None:
            if self._error:
                raise NoActiveVersion(f"the active model version cannot be served: {self._error}", damaged=True)
            raise NoActiveVersion(f"no active model version in {self.root}")
        return loaded

    def status(self) -> dict:
        """For /healthz: what active.json names, what this process serves, and why they differ."""
        loaded = self.get()
        report = {"active": self._active_id, "served": self._version_id(), "error": self._error}
        if loaded is not None:
            # stats only: a served version whose files were deleted or truncated since it was loaded
            damage = integrity.problems(loaded.folder, versions.REQUIRED_FILES, checksums=False)
            if damage:
                report["error"] = f"served version {loaded.version_id} is damaged: {'; '.join(damage)}"
        report["ok"] = loaded is not None and report["error"] is None
        return report

    def _refresh(self) -> None:
        try:
            st = os.stat(self.root / versions.ACTIVE_FILE)
        except FileNotFoundError:
            self._loaded, self._stamp, self._active_id, self._error = None, None, None, None
            return
        stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        if stamp == self._stamp and not (self._error and time.monotonic() - self._failed_at >= RETRY_AFTER):
            return
        self._stamp = stamp  # also on failure below: retried when active.json changes, or after RETRY_AFTER
        try:
            version_id = versions.read_json(self.root / versions.ACTIVE_FILE)["version"]
        except (OSError, KeyError, TypeError, json.JSONDecodeError) as exc:
            logger.exception("unreadable %s; keeping version %s", versions.ACTIVE_FILE, self._version_id())
            self._fail(f"{versions.ACTIVE_FILE} is unreadable: {exc}")
            return
        self._active_id = version_id
        if self._loaded is not None and self._loaded.version_id == version_id:
            self._error = None
            return
        try:
            self._loaded = LoadedVersion.open(versions.version_path(self.root, version_id))
        except Exception as exc:  # a broken version must not take the site down while an older one still works
            logger.exception("cannot load version %s; keeping %s", version_id, self._version_id())
            self._fail(f"version {version_id} failed to load ({type(exc).__name__}: {exc})")
            return
        self._error = None
        logger.info("serving model version %s", version_id)

    def _refresh_overlay(self) -> None:
        """Serve the overlay of the loaded version as it is on disk now (when its file changed)."""
        loaded = self._loaded
        if loaded is None:
            return
        found = overlay.stamp(self.root, loaded.version_id)
        if found == self._overlay_stamp and self._overlay_of == loaded.version_id:
            return
        try:
            folded = overlay.Overlay.read(self.root, loaded.version_id, loaded.books.dim)
        except Exception:  # a damaged overlay must not stop the version: keep what is served, try at the next check
            logger.exception("cannot read the overlay of version %s; keeping the one served", loaded.version_id)
            return
        self._loaded = loaded.with_overlay(folded)
        self._overlay_stamp, self._overlay_of = found, loaded.version_id
        if len(folded):
            logger.info("serving %d folded-in books of version %s", len(folded), loaded.version_id)

    def _fail(self, error: str) -> None:
        served = self._version_id()
        self._error = error + (f"; still serving {served}" if served else "")
        self._failed_at = time.monotonic()

    def _version_id(self) -> str | None:
        return self._loaded.version_id if self._loaded else None

    # Shortcuts for callers that do not need to hold one version across several calls.
    def similar_books(self, book_id: int, k: int = 10) -> list[tuple[int, float]]:
        return self.require().similar_books(book_id, k)

    def similar_links(self, link_id: int, k: int = 10) -> list[tuple[int, float]]:
        return self.require().similar_links(link_id, k)

    def books_for_link(self, link_id: int, k: int = 10) -> list[tuple[int, float]]:
        return self.require().books_for_link(link_id, k)

    def recommend(
        self, liked_ids: Iterable[int], disliked_ids: Iterable[int] = (), k: int = 10
    ) -> list[tuple[int, float]]:
        return self.require().recommend(liked_ids, disliked_ids, k)


_models: dict[Path, ActiveModel] = {}
_models_by_name: dict[object, ActiveModel] = {}  # the path as given: resolving it costs system calls per request
_models_lock = threading.Lock()


def active_model(artifacts_dir: Path) -> ActiveModel:
    """The process-wide ActiveModel of a directory (one per resolved path)."""
    model = _models_by_name.get(artifacts_dir)
    if model is None:
        key = Path(artifacts_dir).resolve()
        with _models_lock:
            model = _models.setdefault(key, ActiveModel(key))
            _models_by_name[artifacts_dir] = model
    return model


def get_active(artifacts_dir: Path) -> LoadedVersion | None:
    return active_model(artifacts_dir).get()


def require_active(artifacts_dir: Path) -> LoadedVersion:
    return active_model(artifacts_dir).require()
