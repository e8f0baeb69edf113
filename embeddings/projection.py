"""2-D UMAP projections of a version's book and link vectors: the map's coordinates (worker side only).

    project_into(folder, seed)          writes map_books.npy, map_links.npy, map.json into a (staging) folder
    backfill(folder, seed)              the same for a published version that has none, each file atomically

umap-learn (and numba, which compiles its kernels) is imported inside the functions, never at module level, and
never by a web process: web processes read the .npy files with numpy (recommender/map/map_data.py). Numba's JIT
cache goes to settings.NUMBA_CACHE_DIR (default var/numba), so the compile cost is paid once per machine.

Faithfulness@10 of a map: for each sampled point, the share of its 10 nearest neighbours in the model's space
(cosine) that are among its 10 nearest on the map (euclidean), averaged. Every point when there are at most
FAITHFULNESS_SAMPLE of them, else a seeded sample of that many queries (each searched against all points).
"""

import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embeddings import versions

logger = logging.getLogger(__name__)

KINDS = ("book", "link")
MAP_FILES = {"book": "map_books.npy", "link": "map_links.npy"}
MAP_INFO = "map.json"
FAITHFULNESS_K = 10
FAITHFULNESS_SAMPLE = 2000
# UMAP's own defaults (n_neighbors 15, min_dist 0.1) read well at both the sample's and the full set's size.
DEFAULT_N_NEIGHBORS = 15
DEFAULT_MIN_DIST = 0.1
# UMAP's own choice above 10,000 points; below that it runs 500, which costs 2.5x the layout time on the sample
# (and in every test that trains one) for a map drawn at a few pixels a point.
N_EPOCHS = 200


def map_settings() -> dict:
    """n_neighbors, min_dist and the numba cache folder from Django settings when configured, else the defaults."""
    values = {"n_neighbors": DEFAULT_N_NEIGHBORS, "min_dist": DEFAULT_MIN_DIST, "numba_cache_dir": None}
    try:
        from django.conf import settings

        if settings.configured:
            values["n_neighbors"] = getattr(settings, "MAP_N_NEIGHBORS", DEFAULT_N_NEIGHBORS)
            values["min_dist"] = getattr(settings, "MAP_MIN_DIST", DEFAULT_MIN_DIST)
            values["numba_cache_dir"] = getattr(settings, "NUMBA_CACHE_DIR", None)
    except ImportError:
        pass
    return values


def use_numba_cache(cache_dir: Path | str | None) -> None:
    """Point numba's on-disk JIT cache at cache_dir; effective for kernels compiled after this call."""
    if cache_dir is None:
        return
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(cache_dir)
    import sys

    if "numba" in sys.modules:  # already imported (config read at import): set it where the caches look
        sys.modules["numba"].config.CACHE_DIR = str(cache_dir)


KNN_BLOCK = 1024  # query rows per block: a (block, n) float32 similarity matrix is 150 MB at 37,020 points
KNN_STRIDE = 8  # every 8th column bounds each row's k-th best similarity from below (see nearest_neighbours)


def nearest_neighbours(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine k nearest neighbours of every row, itself first at distance 0: int32 (n, k), float32 (n, k).

    What UMAP's own search (pynndescent's NN-descent, approximate) finds, exactly and several times faster up to
    tens of thousands of rows: one BLAS product per block of rows, then a selection. The selection first keeps the
    similarities at least the k-th best of every KNN_STRIDE-th column (a lower bound of the row's true k-th best,
    so no true neighbour is lost; about 130 of 37,020 columns pass) and sorts only those.
    """
    n = len(vectors)
    k = min(k, n)
    unit = np.asarray(vectors, dtype=np.float32)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    indices = np.empty((n, k), dtype=np.int32)
    distances = np.empty((n, k), dtype=np.float32)
    stride = KNN_STRIDE if n >= 4 * KNN_STRIDE * k else 1
    for start in range(0, n, KNN_BLOCK):
        rows = np.arange(start, min(start + KNN_BLOCK, n))
        similar = unit[rows] @ unit.T
        similar[np.arange(len(rows)), rows] = np.inf  # itself first, whatever rounding says
        sampled = similar[:, ::stride]
        bound = np.partition(sampled, sampled.shape[1] - k, axis=1)[:, sampled.shape[1] - k]
        row, column = np.nonzero(similar >= bound[:, None])
        value = similar[row, column]
        order = np.lexsort((column, -value, row))  # per row: most similar first, ties by column (deterministic)
        row, column, value = row[order], column[order], value[order]
        first = np.searchsorted(row, np.arange(len(rows)))
        take = (first[:, None] + np.arange(k)).ravel()
        indices[rows] = column[take].reshape(-1, k)
        distances[rows] = np.maximum(1.0 - value[take].reshape(-1, k), 0.0)  # cosine distance, itself 0
    return indices, distances


# umap-learn's modules whose numba kernels it compiles without cache=True (pynndescent's are cached already).
UMAP_KERNEL_MODULES = ("umap.umap_", "umap.layouts", "umap.utils", "umap.distances", "umap.sparse")


def cache_umap_kernels() -> int:
    """Give umap-learn's own numba kernels the on-disk cache that its decorators leave out, so a warm
    NUMBA_CACHE_DIR spares every new worker process their compile; returns how many kernels were switched.

    Numba keys a cache entry by signature and bytecode, not by the jit options, so a function compiled twice
    (umap's layout epoch: serial and parallel) gets the cache on its serial dispatcher only, the one a seeded
    UMAP runs; the parallel one keeps compiling in memory and never reads the serial one's entry.
    """
    import importlib

    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    by_function: dict[object, list[Dispatcher]] = {}
    for name in UMAP_KERNEL_MODULES:
        for value in vars(importlib.import_module(name)).values():
            if isinstance(value, Dispatcher) and value.py_func.__module__ == name and not value.overloads:
                by_function.setdefault(value.py_func, []).append(value)
    switched = 0
    for dispatchers in by_function.values():
        serial = [d for d in dispatchers if not d.targetoptions.get("parallel")]
        chosen = dispatchers if len(dispatchers) == 1 else serial if len(serial) == 1 else []
        for dispatcher in chosen:
            if isinstance(dispatcher._cache, NullCache):  # numba has no public "is it cached"
                dispatcher.enable_caching()
                switched += 1
    return switched


def project(vectors: np.ndarray, seed: int, n_neighbors: int = DEFAULT_N_NEIGHBORS, min_dist: float = DEFAULT_MIN_DIST):
    """UMAP (cosine) of the rows to float32 (n, 2); the same vectors and seed give the same map."""
    n = len(vectors)
    if n < 3:  # UMAP needs a neighbourhood; a line of points is still a map
        return np.column_stack([np.arange(n, dtype=np.float32), np.zeros(n, dtype=np.float32)])
    import umap  # worker only

    cache_umap_kernels()

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs value.*")  # a random_state forces one thread
        warnings.filterwarnings("ignore", message=".*n_neighbors is larger than the dataset size.*")
        warnings.filterwarnings("ignore", message=".*precomputed_knn.*")
        k = min(n_neighbors, n - 1)
        reducer = umap.UMAP(
            n_components=2,
            n_neighbors=k,
            min_dist=min_dist,
            metric="cosine",
            random_state=seed,
            n_epochs=N_EPOCHS,
            low_memory=True,
            precomputed_knn=nearest_neighbours(vectors, k),
        )
        coords = reducer.fit_transform(np.asarray(vectors, dtype=np.float32))
    return np.ascontiguousarray(coords, dtype=np.float32)


def faithfulness(
    vectors: np.ndarray, coords: np.ndarray, k: int = FAITHFULNESS_K, sample: int = FAITHFULNESS_SAMPLE, seed: int = 0
) -> float | None:
    """Mean share of each query's k nearest in model space (cosine) found among its k nearest on the map."""
    n = len(vectors)
    if n <= k:
        return None
    queries = np.arange(n) if n <= sample else np.sort(np.random.default_rng(seed).choice(n, sample, replace=False))
    unit = np.asarray(vectors, dtype=np.float32)
    unit = unit / np.maximum(np.linalg.norm(unit, axis=1, keepdims=True), 1e-12)
    coords = np.asarray(coords, dtype=np.float64)
    shares = []
    for start in range(0, len(queries), 512):  # blocks keep the (block, n) matrices small
        rows = queries[start : start + 512]
        model = unit[rows] @ unit.T
        model[np.arange(len(rows)), rows] = -np.inf  # never a point's own neighbour
        on_map = ((coords[rows, None, :] - coords[None, :, :]) ** 2).sum(axis=2)
        on_map[np.arange(len(rows)), rows] = np.inf
        model_top = np.argpartition(-model, k, axis=1)[:, :k]
        map_top = np.argpartition(on_map, k, axis=1)[:, :k]
        shares.extend(len(np.intersect1d(a, b)) / k for a, b in zip(model_top, map_top, strict=True))
    return float(np.mean(shares))


def project_into(
    folder: Path,
    seed: int,
    on_progress: Callable[[dict], None] | None = None,
    n_neighbors: int | None = None,
    min_dist: float | None = None,
    atomic: bool = False,
) -> dict:
    """Project the book and link vectors of a version folder; write map_*.npy and map.json; return map.json's dict.

    `atomic` writes each file under a temporary name and renames it into place (for published versions, whose
    readers must never see half a file); a staging folder is not read by anyone, so it needs no such care.
    """
    configured = map_settings()
    n_neighbors = configured["n_neighbors"] if n_neighbors is None else n_neighbors
    min_dist = configured["min_dist"] if min_dist is None else min_dist
    use_numba_cache(configured["numba_cache_dir"])
    folder = Path(folder)
    info: dict = {"n_neighbors": n_neighbors, "min_dist": min_dist, "metric": "cosine", "seed": seed}
    for step, kind in enumerate(KINDS):
        if on_progress is not None:
            on_progress({"phase": "projection", "step": step, "total_steps": len(KINDS), "eta_seconds": None})
        vectors = np.load(folder / f"{kind}_vectors.npy")
        started = time.perf_counter()
        coords = project(vectors, seed, n_neighbors, min_dist)
        seconds = time.perf_counter() - started
        score = faithfulness(vectors, coords, seed=seed)
        _save_npy(folder / MAP_FILES[kind], coords, atomic)
        info[f"{kind}s"] = {"points": len(coords), "faithfulness@10": score, "seconds": round(seconds, 2)}
        logger.info("projected %d %ss in %.1f s (faithfulness@10 %s)", len(coords), kind, seconds, score)
    if on_progress is not None:
        on_progress({"phase": "projection", "step": len(KINDS), "total_steps": len(KINDS)})
    _save_json(folder / MAP_INFO, info, atomic)  # last: its presence says both maps are complete
    return info


def has_projection(folder: Path) -> bool:
    folder = Path(folder)
    return (folder / MAP_INFO).is_file() and all((folder / name).is_file() for name in MAP_FILES.values())


def backfill(folder: Path, seed: int, on_progress: Callable[[dict], None] | None = None) -> dict:
    """Add a projection to a published version that has none (see versions.py: additions, never rewrites)."""
    if has_projection(folder):
        return versions.read_json(Path(folder) / MAP_INFO)
    return project_into(folder, seed, on_progress, atomic=True)


def _save_npy(path: Path, array: np.ndarray, atomic: bool) -> None:
    if not atomic:
        np.save(path, array)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, array)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _save_json(path: Path, data: dict, atomic: bool) -> None:
    if not atomic:
        versions.write_json(path, data)
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".json")
    os.close(fd)
    try:
        versions.write_json(Path(tmp), data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
