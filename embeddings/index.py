"""Nearest-neighbour search over a version's vectors: Annoy candidates re-ranked exactly, tuned to a measured recall.

`build_indexes` runs in the worker on the staging folder, before publish. Per kind ('book', 'link') it builds an
Annoy (angular) forest and searches upward over n_trees and search_k until recall@k of the serving path (Annoy
candidates re-ranked by exact dot products), measured against exact numpy search on a sample of rows, reaches the
target. Among the forests that reach the target it keeps the one with the lowest median query time and records the
search in index.json. It also times exact numpy search and marks the kind "exact" when that serves faster (always
for small tables), so web processes take whichever path is both exact enough and quicker.

`VectorIndex` is what web processes open: vectors memory-mapped, the Annoy file mmapped by Annoy, so the pages are
shared by every process on the host. Only the standard library, numpy and annoy are imported here.
"""

import json
import logging
import math
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

logger = logging.getLogger(__name__)

KINDS = ("book", "link")
INDEX_FILE = "index.json"
FORMAT = 1
# Annoy computes exact distances for every item it inspects, so with an explicit search_k the number of results
# asked for does not change recall; the multiplier is headroom for excluded rows and ties before exact re-ranking.
CANDIDATES = 3
EXACT_BELOW = 5_000  # rows; below this a numpy scan takes well under a millisecond
SAMPLE_QUERIES = 500
CROSS_QUERIES = 250  # link vectors queried against the book index (books_for_link)
TIMING_QUERIES = 200
MAX_TREES = 160
TUNING_BUDGET_S = 600.0  # per kind; stops adding trees, never stops short of the target recall


def ann_file(kind: str) -> str:
    return f"{kind}s.ann"


def angular_to_cosine(distance: float) -> float:
    """Annoy's angular distance is |a/|a| - b/|b||, i.e. sqrt(2 - 2 cos)."""
    return 1.0 - distance * distance / 2.0


def effective_search_k(search_k: int, depth: int, tuned_k: int) -> int:
    """search_k was tuned for the top tuned_k; reaching deeper (past excluded rows) needs proportionally more."""
    return math.ceil(search_k * max(1.0, depth / tuned_k))


def scans_everything(search_k: int, depth: int, tuned_k: int, rows: int) -> bool:
    """Whether a query of this depth inspects about every row, so VectorIndex scans exactly instead."""
    return effective_search_k(search_k, depth, tuned_k) >= rows


def normalise(vec: np.ndarray) -> np.ndarray:
    vec = np.asarray(vec, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(vec))
    if not math.isfinite(norm) or norm == 0.0:
        raise ValueError("cannot search with a zero or non-finite vector")
    return vec / norm


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, self_rows: np.ndarray | None = None) -> np.ndarray:
    """Rows of the k largest dot products per query (best first), optionally excluding each query's own row."""
    n = len(vectors)
    k = min(k, n - (1 if self_rows is not None else 0))
    out = np.empty((len(queries), k), dtype=np.int64)
    chunk = max(1, 2**26 // max(n, 1))  # keeps the score block near 256 MB
    for start in range(0, len(queries), chunk):
        scores = queries[start : start + chunk] @ vectors.T
        if self_rows is not None:
            scores[np.arange(len(scores)), self_rows[start : start + chunk]] = -np.inf
        top = np.argpartition(scores, n - k, axis=1)[:, n - k :]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        out[start : start + chunk] = np.take_along_axis(top, order, axis=1)
    return out


class VectorIndex:
    """One kind ('book' or 'link') of a version folder, searched by cosine similarity.

    mode "annoy": Annoy returns candidates * (k + excluded) rows inspecting search_k nodes; they are re-ranked by
    exact dot products with the stored vectors. mode "exact": a numpy scan. The mode, n_trees and search_k come from
    index.json unless given; a folder without index files is served exactly.
    """

    def __init__(self, folder: Path, kind: str, mode: str | None = None) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        folder = Path(folder)
        ids = np.load(folder / f"{kind}_ids.npy")
        vectors = np.load(folder / f"{kind}_vectors.npy", mmap_mode="r")
        info = _read_index_json(folder).get(kind, {})
        mode = mode or info.get("mode") or "exact"
        annoy = None
        if mode == "annoy":
            path = folder / ann_file(kind)
            if not (path.is_file() and info.get("search_k")):
                raise FileNotFoundError(f"{path} or its index.json entry is missing")
            annoy = AnnoyIndex(vectors.shape[1], "angular")
            annoy.load(str(path))  # mmap, shared between processes
        self._setup(
            ids, vectors, annoy, info.get("search_k", -1), info.get("candidates", CANDIDATES), mode, info.get("k", 10)
        )
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
    ) -> "VectorIndex":
        self = cls.__new__(cls)
        self._setup(ids, vectors, annoy, search_k, candidates, mode, tuned_k)
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
    ) -> None:
        if mode not in ("annoy", "exact"):
            raise ValueError(f"mode must be 'annoy' or 'exact', not {mode!r}")
        if mode == "annoy" and annoy is None:
            raise ValueError("annoy mode needs an Annoy index")
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

    def id_of_row(self, row: int) -> int:
        return int(self.ids[row])

    def vector(self, row: int) -> np.ndarray:
        return np.asarray(self.vectors[row], dtype=np.float32)

    def nearest_to_row(self, row: int, k: int, exclude_rows: Iterable[int] = ()) -> list[tuple[int, float]]:
        """k nearest rows to a row (the row itself is always excluded), best first, with cosine similarity."""
        row = int(row)
        if not 0 <= row < len(self):
            raise IndexError(row)
        return self._search(self.vector(row), k, {row, *map(int, exclude_rows)})

    def nearest_to_vector(self, vec: np.ndarray, k: int, exclude_rows: Iterable[int] = ()) -> list[tuple[int, float]]:
        """k nearest rows to any vector of this dimension (normalised here), best first, with cosine similarity."""
        query = normalise(vec)
        if len(query) != self.dim:
            raise ValueError(f"query has {len(query)} dimensions, index has {self.dim}")
        return self._search(query, k, set(map(int, exclude_rows)))

    def _search(self, query: np.ndarray, k: int, exclude: set[int]) -> list[tuple[int, float]]:
        n = len(self)
        exclude = {r for r in exclude if 0 <= r < n}
        k = min(int(k), n - len(exclude))
        if k <= 0:
            return []
        depth = k + len(exclude)
        wanted = self.candidates * depth
        search_k = max(wanted, effective_search_k(self.search_k, depth, self.tuned_k))
        if self.mode == "exact" or search_k >= n:  # Annoy would inspect about everything: the scan is cheaper
            return self._exact(query, k, exclude)
        found = self.annoy.get_nns_by_vector(query, wanted, search_k=search_k)
        rows = np.fromiter((r for r in found if r not in exclude), dtype=np.int64)
        if len(rows) < k:  # search_k far too small for this many exclusions: stay correct
            return self._exact(query, k, exclude)
        rows.sort()  # ascending rows read the memory map in file order
        scores = np.asarray(self.vectors[rows], dtype=np.float32) @ query
        return _best(rows, scores, k)

    def _exact(self, query: np.ndarray, k: int, exclude: set[int]) -> list[tuple[int, float]]:
        # einsum runs in the calling thread; BLAS would spread one request over all cores and oversubscribe a host
        # whose web workers already use them all.
        scores = np.einsum("ij,j->i", self.vectors, query)
        if exclude:
            scores[np.fromiter(exclude, dtype=np.int64)] = -np.inf
        n = len(scores)
        rows = np.argpartition(scores, n - k)[n - k :] if k < n else np.arange(n)
        return _best(rows, scores[rows], k)


def _best(rows: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Top k by score, ties broken by row so results are deterministic; similarities clipped to [-1, 1]."""
    order = np.lexsort((rows, -scores))[:k]
    return [(int(rows[i]), float(min(1.0, max(-1.0, scores[i])))) for i in order]


def _read_index_json(folder: Path) -> dict:
    try:
        return json.loads((Path(folder) / INDEX_FILE).read_text())
    except FileNotFoundError:
        return {}


# ---------------------------------------------------------------------------------------------------------------
# Building and tuning


def build_indexes(
    folder: Path,
    target_recall: float = 0.99,
    k: int = 10,
    seed: int = 0,
    *,
    kinds: Sequence[str] = KINDS,
    mode: str = "auto",
    sample_queries: int = SAMPLE_QUERIES,
    max_trees: int = MAX_TREES,
    budget_s: float = TUNING_BUDGET_S,
) -> dict:
    """Build and tune books.ann / links.ann in a (staging) folder, write index.json and return its content.

    mode "auto" serves exact numpy search for tables under EXACT_BELOW rows or when it measured faster than the
    tuned Annoy path; "annoy" / "exact" force the served path. The Annoy file is built and measured in every mode.
    """
    if mode not in ("auto", "annoy", "exact"):
        raise ValueError(f"mode must be 'auto', 'annoy' or 'exact', not {mode!r}")
    folder = Path(folder)
    result: dict = {"format": FORMAT, "target_recall": target_recall, "k": k, "seed": seed}
    loaded = {kind: _load_for_build(folder, kind) for kind in kinds}
    for kind in kinds:
        vectors = loaded[kind][1]
        cross = loaded.get("link", (None, None))[1] if kind == "book" else None
        info = _tune_kind(folder, kind, vectors, cross, target_recall, k, seed, sample_queries, max_trees, budget_s)
        info["mode"] = _choose_mode(mode, info)
        result[kind] = info
        logger.info("%s index: %s", kind, {key: v for key, v in info.items() if key != "trials"})
    tmp = folder / (INDEX_FILE + ".tmp")
    tmp.write_text(json.dumps(result, indent=2, sort_keys=True))
    os.replace(tmp, folder / INDEX_FILE)
    return result


def _load_for_build(folder: Path, kind: str) -> tuple[np.ndarray, np.ndarray]:
    ids = np.load(folder / f"{kind}_ids.npy")
    vectors = np.ascontiguousarray(np.load(folder / f"{kind}_vectors.npy"), dtype=np.float32)
    if len(ids) != len(vectors):
        raise ValueError(f"{kind} ids and vectors differ in length")
    return ids, vectors


def _choose_mode(mode: str, info: dict) -> str:
    if mode != "auto":
        return mode
    if info["rows"] < EXACT_BELOW or info.get("search_k") is None:
        return "exact"
    if info["scans"]:
        return "exact"  # the target needs Annoy to inspect about every row: its path is a scan already
    return "exact" if info["exact_query_ms_median"] <= info["query_ms_median"] else "annoy"


def _tune_kind(
    folder: Path,
    kind: str,
    vectors: np.ndarray,
    cross: np.ndarray | None,
    target: float,
    k: int,
    seed: int,
    sample_queries: int,
    max_trees: int,
    budget_s: float,
) -> dict:
    started = time.perf_counter()
    n, dim = vectors.shape
    path = folder / ann_file(kind)
    info: dict = {"rows": n, "dim": dim, "file": path.name, "candidates": CANDIDATES, "k": k, "trials": []}
    if n < 2:  # nothing to search among; exact handles it
        info.update(search_k=None, n_trees=None, scans=True, recall=1.0, cross_recall=None, build_seconds=0.0)
        info["file_bytes"] = 0
        for stat in ("mean", "median", "p99"):
            info[f"query_ms_{stat}"] = info[f"exact_query_ms_{stat}"] = 0.0
        return info
    rng = np.random.default_rng(seed)
    ids = np.arange(n, dtype=np.int64)
    own = np.sort(rng.choice(n, size=min(sample_queries, n), replace=False))
    sets = [("own", vectors[own], own, exact_top_k(vectors, vectors[own], k, own))]
    if cross is not None and len(cross):
        picked = rng.choice(len(cross), size=min(CROSS_QUERIES, len(cross)), replace=False)
        sets.append(("cross", cross[picked], None, exact_top_k(vectors, cross[picked], k)))
    exact = VectorIndex.from_arrays(ids, vectors, mode="exact")
    exact_ms = _time_queries(exact, vectors[own], own, k)
    info.update({f"exact_query_ms_{stat}": value for stat, value in exact_ms.items()})

    best: dict | None = None
    n_trees = _initial_trees(n)
    while True:
        round_started = time.perf_counter()
        candidate = folder / f"{path.name}.{n_trees}.tmp"
        build_s = _build_annoy(vectors, n_trees, seed, candidate)
        annoy = AnnoyIndex(dim, "angular")
        annoy.load(str(candidate))
        index = VectorIndex.from_arrays(ids, vectors, annoy, mode="annoy", tuned_k=k)
        search_k, recalls = _find_search_k(index, sets, n, n_trees, k, target, info["trials"])
        index.search_k = search_k
        timing = _time_queries(index, vectors[own], own, k)
        annoy.unload()
        # At this search_k the serving path would scan every row: the forest is too small to be worth keeping.
        scans = scans_everything(search_k, k + 1, k, n)
        trial = {
            "n_trees": n_trees,
            "search_k": search_k,
            "build_seconds": build_s,
            "file": candidate,
            "scans": scans,
            **recalls,
        }
        trial.update({f"query_ms_{stat}": value for stat, value in timing.items()})
        # Medians: a shared host's load spikes swing means and p99s far more than the index does.
        median, previous = timing["median"], best
        if best is None or (scans, median) < (best["scans"], best["query_ms_median"]):
            if best is not None:
                best["file"].unlink(missing_ok=True)
            best = trial
        else:
            candidate.unlink(missing_ok=True)
        improved = scans or previous is None or previous["scans"] or median < 0.9 * previous["query_ms_median"]
        # Doubling the trees roughly doubles the build; stop when it stops paying or would exceed the budget.
        now = time.perf_counter()
        projected = now - started + 2.5 * (now - round_started)
        if not improved or n < EXACT_BELOW or n_trees * 2 > max_trees or projected > budget_s:
            break
        n_trees *= 2
    os.replace(best.pop("file"), path)
    info.update(best)
    info["recall"] = info.pop("recall_own")
    info["cross_recall"] = info.pop("recall_cross", None)
    info["file_bytes"] = path.stat().st_size
    info["tuning_seconds"] = time.perf_counter() - started
    info["queries"] = len(own)
    return info


def _initial_trees(n: int) -> int:
    """Bigger tables need more trees for the same recall per inspected node; start nearer where the search ends."""
    return 10 if n < 200_000 else 20 if n < 800_000 else 40


def _build_annoy(vectors: np.ndarray, n_trees: int, seed: int, path: Path) -> float:
    started = time.perf_counter()
    annoy = AnnoyIndex(vectors.shape[1], "angular")
    annoy.set_seed(seed)
    for row, vec in enumerate(vectors):
        annoy.add_item(row, vec)
    annoy.build(n_trees, n_jobs=-1)
    annoy.save(str(path))
    annoy.unload()
    return time.perf_counter() - started


def _find_search_k(
    index: VectorIndex, sets: list, n: int, n_trees: int, k: int, target: float, trials: list
) -> tuple[int, dict]:
    """Smallest search_k (doubling, then two geometric bisection steps) whose recall reaches the target on every
    query set. search_k = n * n_trees inspects every item, so the search always ends."""
    ceiling = n * n_trees
    cache: dict[int, dict] = {}

    def passes(search_k: int) -> bool:
        index.search_k = search_k
        cache[search_k] = {f"recall_{name}": _recall(index, q, rows, truth, k) for name, q, rows, truth in sets}
        trials.append({"n_trees": n_trees, "search_k": search_k, **cache[search_k]})
        return min(cache[search_k].values()) >= target

    low, search_k = 0, min(ceiling, max(n_trees * CANDIDATES * k, 100))
    while not passes(search_k) and search_k < ceiling:
        low, search_k = search_k, min(ceiling, search_k * 2)
    high = search_k
    for _ in range(2):
        if not low or high <= 1.2 * low:
            break
        middle = int(math.sqrt(low * high))
        if passes(middle):
            high = middle
        else:
            low = middle
    return high, cache[high]


def _recall(index: VectorIndex, queries: np.ndarray, self_rows: np.ndarray | None, truth: np.ndarray, k: int) -> float:
    """Recall@k of the serving path; queries run on all cores (Annoy releases the GIL while searching)."""

    def hits(i: int) -> int:
        exclude = () if self_rows is None else (int(self_rows[i]),)
        found = index.nearest_to_vector(queries[i], k, exclude)
        return len({row for row, _ in found} & set(truth[i].tolist()))

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        total = sum(pool.map(hits, range(len(queries))))
    return total / truth.size


def _time_queries(
    index: VectorIndex, queries: np.ndarray, self_rows: np.ndarray, k: int, limit: int = TIMING_QUERIES
) -> dict[str, float]:
    """Latency (ms) of single queries, one at a time as a web request makes them."""
    times = []
    for i in range(min(limit, len(queries))):
        started = time.perf_counter()
        index.nearest_to_vector(queries[i], k, (int(self_rows[i]),))
        times.append((time.perf_counter() - started) * 1000)
    return {"mean": float(np.mean(times)), "median": float(np.median(times)), "p99": float(np.percentile(times, 99))}
