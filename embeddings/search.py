"""Nearest-neighbour search over a version's vectors: what web processes load (the worker builds in indexing.py).

`VectorIndex` opens one kind ('book', 'link') of a version folder: vectors memory-mapped, the Annoy file mmapped by
Annoy, so the pages are shared by every process on the host. In mode "annoy" Annoy's candidates are re-ranked by
exact dot products; in mode "projected" a scan of the vectors projected onto their first principal axes (a
`Prefilter`: a quarter to a half of the columns, small enough to stay in the CPU's cache) picks candidates that are
re-ranked the same way; in mode "lists" (`ClusterLists`, an inverted file) only the rows of the k-means lists whose
centres are nearest to the query are scored; in mode "exact" (small tables, or where build_indexes measured it faster)
numpy scans every row. Only the standard library, numpy, annoy and threadpoolctl are imported here.

Every product of a search is a BLAS matrix-vector product (`@`), 2-3 times quicker than numpy's einsum on these
shapes (by hand, the full-scale clustered version: 1,156 centres x 256 dims 30 us against 81 us, 683 listed rows 14
us against 41 us). Web processes limit BLAS to the calling thread (`one_blas_thread`, from recommender/wsgi.py): a
product of a few thousand rows otherwise goes multi-threaded, and on a busy host each request waits a scheduler slice
(~8 ms) for another core that the other web threads already use.
"""

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
from annoy import AnnoyIndex
from threadpoolctl import threadpool_limits

KINDS = ("book", "link")
# The query sets an index is tuned on (embeddings/indexing.py), each searched as served: a book's own vector
# (`similar`), a link's vector among the books (`books_for_link`), a reader's liked books averaged (`recommend`).
QUERY_SETS = ("own", "cross", "reader")
INDEX_FILE = "index.json"
# Annoy computes exact distances for every item it inspects, so with an explicit search_k the number of results
# asked for does not change recall; the multiplier is headroom for excluded rows and ties before exact re-ranking.
CANDIDATES = 3
MODES = ("annoy", "exact", "projected", "lists")


def one_blas_thread() -> threadpool_limits:
    """Limit numpy's BLAS to the calling thread, for the whole process (web processes, at startup) or, used as a
    context manager, for a block (the worker timing searches as a web process runs them)."""
    return threadpool_limits(limits=1, user_api="blas")


def ann_file(kind: str) -> str:
    return f"{kind}s.ann"


def prefilter_files(kind: str) -> tuple[str, str]:
    return f"{kind}_basis.npy", f"{kind}_projected.npy"


class Prefilter:
    """The vectors projected onto their first principal axes: scanning them costs a fraction of the full scan.

    A query's projected scores approximate its dot products (the axes left out carry the rest), so the rows with the
    best `candidates` projected scores are re-ranked exactly; build_indexes picks the axes and candidates that reach
    the recall target against exact search."""

    def __init__(self, basis: np.ndarray, projected: np.ndarray, candidates: int) -> None:
        self.basis = basis  # dim x p, orthonormal columns
        self.projected = projected  # rows x p
        self.candidates = int(candidates)

    @staticmethod
    def fit(vectors: np.ndarray, dims: int, sample: int = 20_000) -> tuple[np.ndarray, np.ndarray]:
        """(basis, projected) of the first `dims` principal axes (through the origin: queries are not centred)."""
        step = max(1, len(vectors) // sample)
        _, _, vt = np.linalg.svd(np.asarray(vectors[::step], dtype=np.float32), full_matrices=False)
        basis = np.ascontiguousarray(vt[:dims].T, dtype=np.float32)
        return basis, np.ascontiguousarray(np.asarray(vectors, dtype=np.float32) @ basis)

    @classmethod
    def open(cls, folder: Path, kind: str, candidates: int) -> "Prefilter":
        basis, projected = (np.load(Path(folder) / name, mmap_mode="r") for name in prefilter_files(kind))
        return cls(np.asarray(basis), projected, candidates)

    def save(self, folder: Path, kind: str) -> None:
        for name, array in zip(prefilter_files(kind), (self.basis, self.projected), strict=True):
            np.save(Path(folder) / name, array)

    def rows(self, query: np.ndarray, count: int, exclude: set[int]) -> np.ndarray:
        """The `count` rows with the best projected scores, ascending, excluded rows left out."""
        rough = self.projected @ (query @ self.basis)
        if exclude:
            rough[np.fromiter(exclude, dtype=np.int64)] = -np.inf
        n = len(rough)
        rows = np.sort(np.argpartition(rough, n - count)[n - count :])
        return rows[np.isfinite(rough[rows])]


def lists_files(kind: str) -> tuple[str, str, str, str]:
    return f"{kind}_centres.npy", f"{kind}_list_rows.npy", f"{kind}_list_starts.npy", f"{kind}_list_vectors.npy"


class ClusterLists:
    """The rows grouped by their nearest k-means centre (spherical k-means): an inverted file.

    A query scores the centres, then exactly the rows of the `probe` lists whose centres score best; rows of other
    lists are never read, so a query touches a few percent of the vectors. Neighbours sit in the same or nearby lists
    when the vectors have structure (subjects, authors); build_indexes measures recall against exact search and keeps
    this path only where it reaches the target. List c holds rows[starts[c]:starts[c + 1]], and a copy of their vectors
    in the same order (`vectors`): a list is read as one contiguous block, not gathered row by row from the version's
    vectors, which costs a memory stall a row and was half of a query.

    `probe` is the most lists any kind of query needs; `probes` the fewest each tuned query set needs (QUERY_SETS: a
    reader's mean of liked books may need fewer than a link's vector among the books, or more), so a search that says
    which kind it is reads no more lists than its kind needs."""

    def __init__(
        self,
        centres: np.ndarray,
        rows: np.ndarray,
        starts: np.ndarray,
        vectors: np.ndarray,
        probe: int,
        probes: dict[str, int] | None = None,
    ) -> None:
        if len(rows) != len(vectors) or starts[-1] != len(rows) or len(starts) != len(centres) + 1:
            raise ValueError("ClusterLists: centres, rows, starts and vectors do not match")
        self.centres = centres  # lists x dim, unit rows
        self.rows = rows  # every row once, grouped by list
        self.starts = starts  # lists + 1 offsets into rows
        self.bounds = starts.tolist()  # the same as Python ints: slicing with them costs less than with numpy's
        self.vectors = vectors  # vectors of `rows`, in their order
        self.probe = int(probe)
        self.probes = {name: min(int(count), self.probe) for name, count in (probes or {}).items()}

    def probe_for(self, queries: str | None) -> int:
        """The lists probed for a search like the query set `queries` (None or unknown: the most any set needs)."""
        return self.probes.get(queries, self.probe)

    def __len__(self) -> int:
        return len(self.centres)

    @classmethod
    def fit(
        cls, vectors: np.ndarray, lists: int, probe: int, seed: int = 0, iterations: int = 10, sample: int = 100_000
    ) -> "ClusterLists":
        """Lloyd's iterations on the unit sphere over a sample of at most `sample` rows, then every row assigned to
        its nearest centre. The lists are stored in a chain of near centres (_chain_order), so the lists a query
        probes often lie next to each other in the file and are read as one block."""
        rng = np.random.default_rng(seed)
        vectors = np.asarray(vectors, dtype=np.float32)
        fitted = vectors if len(vectors) <= sample else vectors[np.sort(rng.choice(len(vectors), sample, False))]
        lists = max(1, min(int(lists), len(fitted)))
        centres = fitted[rng.choice(len(fitted), lists, replace=False)].copy()
        for _ in range(iterations):
            assigned = _nearest_centre(fitted, centres)
            sums = np.zeros_like(centres)
            np.add.at(sums, assigned, fitted)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            centres = np.where(norms > 0, sums / np.maximum(norms, 1e-12), centres).astype(np.float32)  # empty: kept
        centres = centres[_chain_order(centres)]
        assigned = _nearest_centre(vectors, centres)
        rows = np.argsort(assigned, kind="stable").astype(np.int64)
        starts = np.searchsorted(assigned[rows], np.arange(lists + 1)).astype(np.int64)
        return cls(np.ascontiguousarray(centres), rows, starts, np.ascontiguousarray(vectors[rows]), probe)

    @classmethod
    def open(cls, folder: Path, kind: str, probe: int, probes: dict[str, int] | None = None) -> "ClusterLists":
        # Plain ndarray views of the memory maps: pages shared by every process, without np.memmap's cost per slice.
        arrays = (np.asarray(np.load(Path(folder) / name, mmap_mode="r")) for name in lists_files(kind))
        return cls(*arrays, probe=probe, probes=probes)

    def save(self, folder: Path, kind: str) -> None:
        arrays = (self.centres, self.rows, self.starts, self.vectors)
        for name, array in zip(lists_files(kind), arrays, strict=True):
            np.save(Path(folder) / name, array)

    def scores(self, query: np.ndarray, probe: int) -> tuple[np.ndarray, np.ndarray]:
        """(rows, dot products with the query) of every row in the `probe` lists whose centres are nearest to it."""
        near = self.centres @ query
        n = len(near)
        nearest = sorted(near.argpartition(n - probe)[n - probe :].tolist()) if probe < n else range(n)
        bounds, vectors = self.bounds, self.vectors
        spans = _merged([(bounds[c], bounds[c + 1]) for c in nearest])  # ascending: read in file order
        # A product per block, read in place: concatenating the lists first copied about 1 MB a query (at 256 dims)
        # and read it twice, a fifth of a reader's search.
        scores = np.concatenate([vectors[a:b] @ query for a, b in spans])
        return np.concatenate([self.rows[a:b] for a, b in spans]), scores


class ListedRows:
    """A version's vectors read, by row, from the copy ClusterLists keeps in list order.

    In mode "lists" a web process reads this copy only, not the version's vectors file as well: the same numbers
    mapped twice would double what each worker touches (and counts in its RSS). Supports what serving does with a
    vectors array: rows by index, `len`, `shape` and a full product `@ query` (in row order)."""

    ndim = 2

    def __init__(self, lists: ClusterLists) -> None:
        self.lists = lists
        self.shape = lists.vectors.shape
        self.position = np.empty(len(lists.rows), dtype=np.int64)  # each row's place in list order
        self.position[lists.rows] = np.arange(len(lists.rows))

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: object) -> np.ndarray:
        if isinstance(index, int | np.integer):
            return self.lists.vectors[self.position[int(index)]]
        return self.lists.vectors[self.position[index]]

    def __matmul__(self, query: np.ndarray) -> np.ndarray:
        scores = np.empty(len(self), dtype=np.float32)
        scores[self.lists.rows] = self.lists.vectors @ query
        return scores


def _chain_order(centres: np.ndarray) -> list[int]:
    """The centres as a chain, each followed by its nearest centre not yet in it (from centre 0): neighbouring
    lists end up next to each other, so the 20-40 lists a query probes form about half as many contiguous blocks
    (by hand, the full-scale generated catalogue's 1,156 lists: 29.3 -> 15.9 blocks for 30 probed lists, and the
    scan 25-30% quicker with the CPU caches disturbed between queries, as in a busy web process)."""
    left = np.ones(len(centres), dtype=bool)
    chain = [0]
    left[0] = False
    # one product a step, no lists x lists matrix: lists^2 x dim in all, a few percent of fit()'s iterations
    # (iterations x sample x lists x dim); 0.05 s for 1,156 lists, 1.2 s for 4,096 (by hand)
    for _ in range(len(centres) - 1):
        near = np.where(left, centres @ centres[chain[-1]], -np.inf)
        chain.append(int(np.argmax(near)))
        left[chain[-1]] = False
    return chain


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Ascending (start, stop) spans with the adjacent ones joined."""
    merged = [spans[0]] if spans else []
    for start, stop in spans[1:]:
        if start == merged[-1][1]:
            merged[-1] = (merged[-1][0], stop)
        else:
            merged.append((start, stop))
    return merged


def _nearest_centre(vectors: np.ndarray, centres: np.ndarray, block: int = 8192) -> np.ndarray:
    """Each row's nearest centre by dot product, a block of rows at a time (the score block stays small)."""
    out = np.empty(len(vectors), dtype=np.int64)
    for start in range(0, len(vectors), block):
        out[start : start + block] = np.argmax(vectors[start : start + block] @ centres.T, axis=1)
    return out


def angular_to_cosine(distance: float) -> float:
    """Annoy's angular distance is |a/|a| - b/|b||, i.e. sqrt(2 - 2 cos)."""
    return 1.0 - distance * distance / 2.0


def effective_search_k(search_k: int, depth: int, tuned_k: int) -> int:
    """search_k (or a prefilter's candidates, or the lists probed) was tuned for the top tuned_k; reaching deeper
    (past excluded rows) needs proportionally more."""
    return math.ceil(search_k * max(1.0, depth / tuned_k))


def scans_everything(search_k: int, depth: int, tuned_k: int, rows: int) -> bool:
    """Whether a query of this depth inspects about every row, so VectorIndex scans exactly instead."""
    return effective_search_k(search_k, depth, tuned_k) >= rows


def normalise(vec: np.ndarray) -> np.ndarray:
    """One query vector to unit length; a zero or non-finite one cannot be searched with (ValueError)."""
    vec = np.asarray(vec, dtype=np.float32).ravel()
    # np.linalg.norm's own sum of squares, without its Python-level checks (a few us of every query)
    norm = math.sqrt(float(vec @ vec))
    if not math.isfinite(norm) or norm == 0.0:
        raise ValueError("cannot search with a zero or non-finite vector")
    return vec / norm


def normalise_rows(vectors: np.ndarray) -> np.ndarray:
    """Every row to unit length, as float32 (what a version stores); an all-zero row stays zero."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


def exact_top_k(
    vectors: np.ndarray, queries: np.ndarray, k: int, self_rows: np.ndarray | Sequence[Sequence[int]] | None = None
) -> np.ndarray:
    """Rows of the k largest dot products per query (best first), optionally excluding each query's own row (an
    array of rows) or each query's own rows (a sequence of row lists: a reader's liked books)."""
    n = len(vectors)
    one_each = isinstance(self_rows, np.ndarray) and self_rows.ndim == 1
    most = 0 if self_rows is None else 1 if one_each else max(map(len, self_rows), default=0)
    k = min(k, n - most)
    out = np.empty((len(queries), k), dtype=np.int64)
    chunk = max(1, 2**26 // max(n, 1))  # keeps the score block near 256 MB
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ vectors.T
        if one_each:
            scores[np.arange(len(scores)), self_rows[start : start + chunk]] = -np.inf
        elif self_rows is not None:
            for i, rows in enumerate(self_rows[start : start + chunk]):
                scores[i, np.asarray(rows, dtype=np.int64)] = -np.inf
        top = np.argpartition(scores, n - k, axis=1)[:, n - k :]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        out[start : start + chunk] = np.take_along_axis(top, order, axis=1)
    return out


class VectorIndex:
    """One kind ('book' or 'link') of a version folder, searched by cosine similarity.

    mode "annoy": Annoy returns candidates * (k + excluded) rows inspecting search_k nodes; they are re-ranked by
    exact dot products with the stored vectors. mode "projected": a Prefilter's candidates, re-ranked the same way.
    mode "lists": the rows of the ClusterLists nearest to the query, scored exactly (and every row read from their
    copy, `ListedRows`). mode "exact": a numpy scan. The mode and its settings come from index.json unless given; a
    folder without index files is served exactly.
    """

    def __init__(self, folder: Path, kind: str, mode: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        folder = Path(folder)
        ids = np.load(folder / f"{kind}_ids.npy")
        # a plain ndarray view of the memory map: shared pages, without np.memmap's Python-level cost per gather
        vectors = np.asarray(np.load(folder / f"{kind}_vectors.npy", mmap_mode="r"))
        info = read_index_json(folder).get(kind, {})
        mode = mode or info.get("mode") or "exact"
        annoy = None
        if mode == "annoy":
            path = folder / ann_file(kind)
            if not (path.is_file() and info.get("search_k")):
                raise FileNotFoundError(f"{path} or its index.json entry is missing")
            annoy = AnnoyIndex(vectors.shape[1], "angular")
            annoy.load(str(path))  # mmap, shared between processes
        prefilter = lists = None
        if mode == "projected":
            prefilter = Prefilter.open(folder, kind, info["prefilter"]["candidates"])
        if mode == "lists":
            lists = ClusterLists.open(folder, kind, info["lists"]["probe"], info["lists"].get("probes"))
            vectors = ListedRows(lists)
        search_k, candidates = info.get("search_k", -1), info.get("candidates", CANDIDATES)
        self._setup(ids, vectors, annoy, search_k, candidates, mode, info.get("k", 10), prefilter, lists)
        self.kind = kind
        self.info = info

    @classmethod
    def from_arrays(
        cls,
        ids: np.ndarray,
        vectors: np.ndarray,
        annoy: AnnoyIndex | None = None,
        search_k: int = -1,
        candidates: int = CANDIDATES,
        mode: str = "annoy",
        tuned_k: int = 10,
        prefilter: Prefilter | None = None,
        lists: ClusterLists | None = None,
    ) -> "VectorIndex":
        self = cls.__new__(cls)
        self._setup(ids, vectors, annoy, search_k, candidates, mode, tuned_k, prefilter, lists)
        self.kind, self.info = "", {}
        return self

    def _setup(
        self,
        ids: np.ndarray,
        vectors: np.ndarray,
        annoy: AnnoyIndex | None,
        search_k: int,
        candidates: int,
        mode: str,
        tuned_k: int,
        prefilter: Prefilter | None = None,
        lists: ClusterLists | None = None,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if mode == "annoy" and annoy is None:
            raise ValueError("annoy mode needs an Annoy index")
        if mode == "projected" and prefilter is None:
            raise ValueError("projected mode needs a Prefilter")
        if mode == "lists" and (lists is None or lists.starts[-1] != len(vectors)):
            raise ValueError("lists mode needs ClusterLists holding every row")
        if len(ids) != len(vectors) or vectors.ndim != 2:
            raise ValueError("ids and vectors differ in length or vectors are not 2-d")
        if annoy is not None and annoy.get_n_items() != len(vectors):
            raise ValueError(f"Annoy index has {annoy.get_n_items()} items, vectors have {len(vectors)} rows")
        self.ids = np.asarray(ids, dtype=np.int64)
        self.vectors = vectors
        self.annoy = annoy
        self.search_k = int(search_k)
        self.candidates = max(1, int(candidates))
        self.tuned_k = max(1, int(tuned_k))
        self.mode = mode
        self.prefilter = prefilter
        self.lists = lists
        # Sorted-array lookup: a few bytes per row instead of a dict of Python ints in every web process.
        if len(self.ids) < 2 or bool(np.all(self.ids[1:] > self.ids[:-1])):
            self._order, self._sorted_ids = None, self.ids
        else:
            self._order = np.argsort(self.ids, kind="stable")
            self._sorted_ids = self.ids[self._order]
            if bool(np.any(self._sorted_ids[1:] == self._sorted_ids[:-1])):
                raise ValueError("duplicate catalogue ids")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __contains__(self, catalogue_id: object) -> bool:
        try:
            self.row_of_id(catalogue_id)  # type: ignore[arg-type]
        except KeyError:
            return False
        return True

    def row_of_id(self, catalogue_id: int) -> int:
        try:
            key = int(catalogue_id)
        except (TypeError, ValueError):
            raise KeyError(catalogue_id) from None
        pos = int(np.searchsorted(self._sorted_ids, key))
        if pos == len(self._sorted_ids) or int(self._sorted_ids[pos]) != key:
            raise KeyError(catalogue_id)
        return pos if self._order is None else int(self._order[pos])

    def rows_of_ids(self, catalogue_ids: Sequence[int]) -> tuple[list[int], list[int]]:
        """The rows of these ids in one lookup, and the ids (in the order given) that have none."""
        try:
            keys = np.asarray(catalogue_ids, dtype=np.int64).ravel()
        except (TypeError, ValueError, OverflowError):  # not integers, or beyond int64: looked up one by one
            return rows_one_by_one(self, catalogue_ids)
        n = len(self._sorted_ids)
        pos = np.minimum(np.searchsorted(self._sorted_ids, keys), max(n - 1, 0))
        found = self._sorted_ids[pos] == keys if n else np.zeros(len(keys), dtype=bool)
        rows = pos if self._order is None else self._order[pos]
        unknown = [] if found.all() else [catalogue_ids[i] for i in np.flatnonzero(~found).tolist()]
        return rows[found].tolist(), unknown

    def id_of_row(self, row: int) -> int:
        return int(self.ids[row])

    def ids_of_rows(self, rows: list[int]) -> list[int]:
        return self.ids[rows].tolist() if rows else []

    def vector(self, row: int) -> np.ndarray:
        return np.asarray(self.vectors[row], dtype=np.float32)

    def nearest_to_row(self, row: int, k: int, exclude_rows: Iterable[int] = ()) -> list[tuple[int, float]]:
        """k nearest rows to a row (the row itself is always excluded), best first, with cosine similarity."""
        row = int(row)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self._search(self.vector(row), k, {row, *map(int, exclude_rows)}, "own")

    def nearest_to_vector(
        self, vec: np.ndarray, k: int, exclude_rows: Iterable[int] = (), queries: str | None = None
    ) -> list[tuple[int, float]]:
        """k nearest rows to any vector of this dimension (normalised here), best first, with cosine similarity.
        `queries` names the tuned query set (QUERY_SETS) the vector is like, when the caller knows it: in mode "lists"
        the search probes the lists that set needs (ClusterLists.probes)."""
        query = normalise(vec)
        if len(query) != self.dim:
            raise ValueError(f"query has {len(query)} dimensions, index has {self.dim}")
        return self._search(query, k, set(map(int, exclude_rows)), queries)

    def _search(self, query: np.ndarray, k: int, exclude: set[int], queries: str | None) -> list[tuple[int, float]]:
        n = len(self)
        exclude = {r for r in exclude if 0 <= r < n}
        k = min(int(k), n - len(exclude))
        if k <= 0:
            return []
        depth = k + len(exclude)
        if self.mode == "projected":
            return self._projected(query, k, exclude, depth)
        if self.mode == "lists":
            return self._listed(query, k, exclude, depth, queries)
        wanted = self.candidates * depth
        search_k = max(wanted, effective_search_k(self.search_k, depth, self.tuned_k))
        if self.mode == "exact" or search_k >= n:  # Annoy would inspect about everything: the scan is cheaper
            return self._exact(query, k, exclude)
        found = self.annoy.get_nns_by_vector(query, wanted, search_k=search_k)
        rows = np.fromiter((r for r in found if r not in exclude), dtype=np.int64)
        if len(rows) < k:  # search_k far too small for this many exclusions: stay correct
            return self._exact(query, k, exclude)
        rows.sort()  # ascending rows read the memory map in file order
        return _best(rows, _rescored(self.vectors, rows, query), k)

    def _projected(self, query: np.ndarray, k: int, exclude: set[int], depth: int) -> list[tuple[int, float]]:
        count = effective_search_k(self.prefilter.candidates, depth, self.tuned_k)
        if count >= len(self):
            return self._exact(query, k, exclude)
        rows = self.prefilter.rows(query, count, exclude)
        if len(rows) < k:
            return self._exact(query, k, exclude)
        return _best(rows, _rescored(self.vectors, rows, query), k)

    def _listed(
        self, query: np.ndarray, k: int, exclude: set[int], depth: int, queries: str | None
    ) -> list[tuple[int, float]]:
        probe = effective_search_k(self.lists.probe_for(queries), depth, self.tuned_k)
        if probe >= len(self.lists):
            return self._exact(query, k, exclude)
        rows, scores = self.lists.scores(query, probe)
        if len(rows) < depth:
            return self._exact(query, k, exclude)
        # The top `depth` rows and those tied with the last of them hold the top k rows that are not excluded (and
        # their ties): at most len(exclude) of them are excluded. So only these few are checked against `exclude`,
        # not every probed row (comparing them all cost as much as a third of the lists' own scan).
        keep = np.flatnonzero(scores >= np.partition(scores, len(scores) - depth)[len(scores) - depth])
        # these few (about depth) are ranked in Python: numpy's cost per call is most of the work on so few
        found = zip(rows[keep].tolist(), scores[keep].tolist(), strict=True)
        return _best_of([(row, score) for row, score in found if row not in exclude], k)

    def _exact(self, query: np.ndarray, k: int, exclude: set[int]) -> list[tuple[int, float]]:
        scores = self.vectors @ query
        if exclude:
            scores[np.fromiter(exclude, dtype=np.int64)] = -np.inf
        n = len(scores)
        rows = np.argpartition(scores, n - k)[n - k :] if k < n else np.arange(n)
        return _best(rows, scores[rows], k)


class RowLookup(Protocol):
    def row_of_id(self, catalogue_id: int) -> int: ...  # KeyError for an unknown id


def rows_one_by_one(index: RowLookup, catalogue_ids: Sequence[int]) -> tuple[list[int], list[int]]:
    """rows_of_ids by one row_of_id call per id (VectorIndex, BookSpace): the rows found, and the ids (in the order
    given) that have none."""
    rows, unknown = [], []
    for catalogue_id in catalogue_ids:
        try:
            rows.append(index.row_of_id(catalogue_id))
        except KeyError:
            unknown.append(catalogue_id)
    return rows, unknown


def _rescored(vectors, rows: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Exact scores of the candidate rows."""
    return np.asarray(vectors[rows], dtype=np.float32) @ query


def _best(rows: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Top k by score, ties broken by row so results are deterministic; similarities clipped to [-1, 1]."""
    order = np.lexsort((rows, -scores))[:k]
    found = zip(np.asarray(rows)[order].tolist(), np.asarray(scores)[order].tolist(), strict=True)
    return [(row, _similarity(score)) for row, score in found]


def _best_of(found: list[tuple[int, float]], k: int) -> list[tuple[int, float]]:
    """_best of a few (row, score) pairs, in Python: the same order (score descending, then row; a NaN last)."""
    found.sort(key=lambda pair: (-pair[1] if pair[1] == pair[1] else math.inf, pair[0]))
    return [(row, _similarity(score)) for row, score in found[:k]]


def _similarity(score: float) -> float:
    """A score as a cosine similarity, clipped to [-1, 1] (rounding can pass them); a NaN stays NaN (answered as
    null). In Python: np.clip costs more than this on k scores."""
    return min(1.0, max(-1.0, score)) if score == score else score


def read_index_json(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / INDEX_FILE).read_text())
    except FileNotFoundError:
        return {}
