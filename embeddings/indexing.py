"""Building and tuning a version's Annoy indexes: runs in the worker on the staging folder, before publish.

`build_indexes`, per kind ('book', 'link'), builds an Annoy (angular) forest and searches upward over n_trees and
search_k until recall@k of the serving path (Annoy candidates re-ranked by exact dot products, embeddings.search),
measured against exact numpy search on a sample of rows, reaches the target; for books also on the link vectors
(books_for_link) and on readers' queries as `recommend` builds and answers them (normalised means of 1-5 books, those
books left out), since the similar table answers most book-to-book searches and those two kinds are what the index still
serves. Among the forests that reach the target it keeps the one with the lowest median query time and records the
search in index.json. It also tunes `ClusterLists` (k-means lists, only the nearest lists scored; besides the lists
probed for any query, the fewest each query set needs, which serving probes for a search of that kind) and a `Prefilter`
(the vectors' first principal axes scanned first, the best candidates re-ranked exactly) to the same recall on the same
queries, and times exact numpy search; each kind is served by whichever of the four paths reaching the target is
quickest (always exact for small tables). The lists are tuned first: where they reach the target, no more trees are
added once the forest is twice as slow as they are, and the prefilter is not tried when they beat a quarter of an exact
scan (the least a prefilter reads), which saves most of the tuning's time on a catalogue with structure. Nothing slower
than an exact scan (or the lists) can be served, so a search that is slower is timed but its recall is not measured
(unless its mode is forced), and a forest whose search must scan is not doubled once more trees stop raising the recall
it reaches short of a scan: on vectors without structure (the full-scale generated graph) that is most of the tuning.
"""

import json
import logging
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex

from embeddings.search import (
    CANDIDATES,
    INDEX_FILE,
    KINDS,
    MODES,
    ClusterLists,
    Prefilter,
    VectorIndex,
    ann_file,
    exact_top_k,
    lists_files,
    one_blas_thread,
    prefilter_files,
    scans_everything,
)

logger = logging.getLogger(__name__)

FORMAT = 1
EXACT_BELOW = 5_000  # rows; below this a numpy scan takes well under a millisecond
SAMPLE_QUERIES = 500
CROSS_QUERIES = 250  # link vectors queried against the book index (books_for_link)
READER_QUERIES = 500  # readers' queries against the book index (recommend): their own probe is tuned on them
TIMING_QUERIES = 200
MAX_TREES = 160
PREFILTER_DIVISORS = (4, 3, 2)  # projected onto a quarter, a third or half of the dimensions
ROWS_PER_LIST = (32, 64, 16)  # k-means lists tried, about this many rows a list: the middle first
FIRST_PROBE = 8
TUNED_PATHS = {"projected": "prefilter", "lists": "lists"}  # served modes tuned apart: their index.json entries
TUNING_BUDGET_S = 600.0  # per kind; stops adding trees, never stops short of the target recall


def build_indexes(
    folder: Path,
    target_recall: float = 0.99,
    k: int = 10,
    seed: int = 0,
    *,
    kinds: Sequence[str] = KINDS,
    mode: str | dict[str, str] = "auto",
    sample_queries: int = SAMPLE_QUERIES,
    max_trees: int = MAX_TREES,
    budget_s: float = TUNING_BUDGET_S,
) -> dict:
    """Build and tune books.ann / links.ann in a (staging) folder, write index.json and return its content.

    mode "auto" serves whichever path reaching the target measured quickest (exact numpy search for tables under
    EXACT_BELOW rows); "annoy", "exact", "projected" or "lists" force the served path (the last two need their tuning
    to have reached the target: ValueError otherwise), for every kind or per kind ({"book": "lists"}: the others
    "auto"). The Annoy file is built and measured in every mode.
    """
    modes = dict.fromkeys(kinds, mode) if isinstance(mode, str) else {kind: mode.get(kind, "auto") for kind in kinds}
    for asked in modes.values():
        if asked not in ("auto", *MODES):
            raise ValueError(f"mode must be 'auto' or one of {MODES}, not {asked!r}")
    folder = Path(folder)
    result: dict = {"format": FORMAT, "target_recall": target_recall, "k": k, "seed": seed}
    loaded = {kind: _load_for_build(folder, kind) for kind in kinds}
    for kind in kinds:
        vectors = loaded[kind][1]
        cross = loaded.get("link", (None, None))[1] if kind == "book" else None
        info = _tune_kind(
            folder, kind, vectors, cross, target_recall, k, seed, sample_queries, max_trees, budget_s, modes[kind]
        )
        info["mode"] = _choose_mode(modes[kind], info)
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
    key = TUNED_PATHS.get(mode)
    if key is not None and (info.get(key) or {}).get("query_ms_median") is None:
        raise ValueError(f"mode {mode!r} was asked for, but its tuning did not reach the target recall")
    if mode != "auto":
        return mode
    if info["rows"] < EXACT_BELOW:
        return "exact"
    medians = {"exact": info["exact_query_ms_median"]}
    if info.get("search_k") is not None and not info["scans"]:  # a scanning Annoy search is a scan already
        medians["annoy"] = info["query_ms_median"]
    for mode, key in TUNED_PATHS.items():
        if (info.get(key) or {}).get("query_ms_median") is not None:
            medians[mode] = info[key]["query_ms_median"]
    return min(medians, key=medians.get)  # ties: the first, exact


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
    mode: str,
) -> dict:
    started = time.perf_counter()
    n, dim = vectors.shape
    path = folder / ann_file(kind)
    info: dict = {"rows": n, "dim": dim, "file": path.name, "candidates": CANDIDATES, "k": k, "trials": []}
    if n < 2:  # nothing to search among; exact handles it
        info.update(search_k=None, n_trees=None, scans=True, recall=1.0, cross_recall=None, reader_recall=None)
        info["build_seconds"] = 0.0
        info["file_bytes"] = 0
        for stat in ("mean", "median", "p99"):
            info[f"query_ms_{stat}"] = info[f"exact_query_ms_{stat}"] = 0.0
        return info
    rng = np.random.default_rng(seed)
    ids = np.arange(n, dtype=np.int64)
    own = np.sort(rng.choice(n, size=min(sample_queries, n), replace=False))
    queries = vectors[own]
    sets = [("own", queries, own, exact_top_k(vectors, queries, k, own))]
    if cross is not None and len(cross):
        picked = rng.choice(len(cross), size=min(CROSS_QUERIES, len(cross)), replace=False)
        sets.append(("cross", cross[picked], None, exact_top_k(vectors, cross[picked], k)))
    if kind == "book":
        readers, liked = reader_queries(vectors, min(READER_QUERIES, n), rng)
        sets.append(("reader", readers, liked, exact_top_k(vectors, readers, k, liked)))
    exact = VectorIndex.from_arrays(ids, vectors, mode="exact")
    exact_ms = _time_queries(exact, queries, own, k)
    info.update({f"exact_query_ms_{stat}": value for stat, value in exact_ms.items()})

    # The lists first: where they reach the target, their speed bounds what more trees or a prefilter could win.
    lists = _tune_lists(folder, kind, vectors, sets, own, k, target, seed) if n >= EXACT_BELOW else None
    rival_ms = (lists or {}).get("query_ms_median")
    # No path slower than an exact scan or the lists is served: searches past this bound are not measured, unless
    # the path is to be served whatever its speed (a forced mode).
    bound_ms = min(info["exact_query_ms_median"], rival_ms if rival_ms is not None else math.inf)
    annoy_bound_ms = math.inf if mode == "annoy" else bound_ms
    best: dict | None = None
    n_trees, previous_reach = _initial_trees(n), None
    while True:
        round_started = time.perf_counter()
        candidate = folder / f"{path.name}.{n_trees}.tmp"
        build_s = _build_annoy(vectors, n_trees, seed, candidate)
        annoy = AnnoyIndex(dim, "angular")
        annoy.load(str(candidate))
        index = VectorIndex.from_arrays(ids, vectors, annoy, mode="annoy", tuned_k=k)
        search_k, recalls = _find_search_k(
            index, sets, n, n_trees, k, target, info["trials"], (queries, own), annoy_bound_ms
        )
        index.search_k = search_k
        timing = _time_queries(index, queries, own, k)
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
        reach = _reach_short_of_scan(info["trials"], n_trees, n, k) if scans else None
        # A forest that must scan is doubled only while the recall it reaches short of a scan climbs fast enough.
        doublings_left = math.log2(max_trees / n_trees)
        hopeless = reach is not None and not _may_still_reach(previous_reach, reach, doublings_left, target)
        previous_reach = reach
        # Doubling the trees roughly doubles the build; stop when it stops paying or would exceed the budget.
        now = time.perf_counter()
        projected = now - started + 2.5 * (now - round_started)
        # Doubling the trees rarely halves a query: a forest twice as slow as the lists will not be served.
        outrun = rival_ms is not None and best["query_ms_median"] > 2 * rival_ms
        if not improved or outrun or hopeless or n < EXACT_BELOW or n_trees * 2 > max_trees or projected > budget_s:
            break
        n_trees *= 2
    os.replace(best.pop("file"), path)
    info.update(best)
    info["recall"] = info.pop("recall_own")
    info["cross_recall"] = info.pop("recall_cross", None)
    info["reader_recall"] = info.pop("recall_reader", None)
    info["file_bytes"] = path.stat().st_size
    if lists is not None:
        # A prefilter scans a quarter of the columns at least: about a quarter of an exact scan's time, or more.
        if rival_ms is not None and rival_ms < info["exact_query_ms_median"] / PREFILTER_DIVISORS[0]:
            info["prefilter"] = {
                "query_ms_median": None,
                "skipped": "the lists are quicker than its scan",
                "trials": [],
            }
        else:
            prefilter_bound_ms = math.inf if mode == "projected" else bound_ms
            info["prefilter"] = _tune_prefilter(folder, kind, vectors, sets, own, k, target, prefilter_bound_ms)
        info["lists"] = lists
    info["tuning_seconds"] = time.perf_counter() - started
    info["queries"] = len(own)
    return info


def _tune_prefilter(
    folder: Path, kind: str, vectors: np.ndarray, sets: list, own: np.ndarray, k: int, target: float, bound_ms: float
) -> dict:
    """For each projection, widest first, the fewest candidates (doubling) whose recall reaches the target on every
    query set; keeps the quickest and saves its files. Candidates past a quarter of the rows would cost about a scan.

    Two shortcuts, each from a bound that holds whatever the vectors: a narrower projection's axes are the first of
    a wider one's, so it ranks no better at the same candidates and starts at the candidates the wider one needed
    (or had reached); and a trial's queries are timed before its recall is measured, since one no quicker than
    `bound_ms` (an exact scan, the lists) or than the best projection so far cannot be served, nor can more
    candidates. On vectors without structure this measures a third as many recalls."""
    n, dim = vectors.shape
    ids = np.arange(n, dtype=np.int64)
    trials: list[dict] = []
    best: dict | None = None
    queries = vectors[own]
    widest = max(1, dim // min(PREFILTER_DIVISORS))
    basis, projected = Prefilter.fit(vectors, widest)
    candidates = 25 * k
    for divisor in sorted(PREFILTER_DIVISORS):
        dims = max(1, dim // divisor)
        narrowed = (np.ascontiguousarray(basis[:, :dims]), np.ascontiguousarray(projected[:, :dims]))
        while candidates * 4 <= n:
            prefilter = Prefilter(*narrowed, candidates)
            index = VectorIndex.from_arrays(ids, vectors, mode="projected", tuned_k=k, prefilter=prefilter)
            query_ms = _timed_ms(index, queries, own, k, bound_ms)
            trial: dict = {"dims": dims, "candidates": candidates, "query_ms_median": query_ms}
            trials.append(trial)
            if query_ms >= bound_ms:
                trial["slower_than_ms"] = bound_ms
                break
            trial.update(_recalls(index, sets, k))
            if _worst_recall(trial) >= target:
                best, bound_ms = {"trial": trial, "tuned": prefilter}, query_ms
                break
            candidates *= 2
        else:
            break  # no narrower projection reaches the target within a quarter of the rows either
    return _keep_best(folder, kind, prefilter_files(kind), best, trials)


def _keep_best(folder: Path, kind: str, names: Sequence[str], best: dict | None, trials: list[dict]) -> dict:
    """Save the quickest tuned structure that reached the target (a Prefilter, ClusterLists) under its file names,
    none of an earlier build's left; its index.json entry, with every trial."""
    for name in names:
        (folder / name).unlink(missing_ok=True)
    if best is None:
        return {"query_ms_median": None, "trials": trials}
    best["tuned"].save(folder, kind)
    return {**best["trial"], "trials": trials}


def _tune_lists(
    folder: Path, kind: str, vectors: np.ndarray, sets: list, own: np.ndarray, k: int, target: float, seed: int
) -> dict:
    """For each number of lists, the fewest lists probed (doubling, then one geometric bisection step) whose recall
    reaches the target on every query set; keeps the quickest and saves its files. Probing more than a quarter of the
    lists would read about as much as a scan. The middle number of lists is tried first: where it cannot reach the
    target, neither coarser nor finer lists are tried (on vectors without structure each costs a fit and a dozen
    recall measurements for nothing)."""
    n = len(vectors)
    ids = np.arange(n, dtype=np.int64)
    trials: list[dict] = []
    best: dict | None = None
    for per_list in ROWS_PER_LIST:
        count = n // per_list
        if count < 4 * FIRST_PROBE:
            continue
        started = time.perf_counter()
        lists = ClusterLists.fit(vectors, count, FIRST_PROBE, seed)
        extra = {"fit_seconds": round(time.perf_counter() - started, 3)}
        index = VectorIndex.from_arrays(ids, vectors, mode="lists", tuned_k=k, lists=lists)
        measure = partial(_lists_trial, index, sets=sets, k=k, extra=extra, trials=trials)
        found = _fewest_probed(measure, count, target)
        if found is None:
            if best is None:
                break
            continue
        found["probes"] = _fewest_per_set(measure, [t for t in trials if t["lists"] == count], target)
        lists.probe, lists.probes = found["probe"], found["probes"]  # each measurement set a probe: the chosen ones
        found["query_ms_median"] = _time_queries(index, vectors[own], own, k)["median"]
        if best is None or found["query_ms_median"] < best["trial"]["query_ms_median"]:
            best = {"trial": found, "tuned": lists}
    return _keep_best(folder, kind, lists_files(kind), best, trials)


def _fewest_probed(measure, count: int, target: float) -> dict | None:
    """The trial of the fewest lists probed that reach the target, or None. Probes double from FIRST_PROBE up to a
    quarter of the lists, then one bisection step; recall grows by less with each doubling (each adds rows further
    from the query), so the search stops once the last gain, repeated for every doubling left, would fall short."""
    low, probe, previous = 0, FIRST_PROBE, None
    while probe * 4 <= count:
        trial = measure(probe)
        recall = _worst_recall(trial)
        if recall >= target:
            break
        if not _may_still_reach(previous, recall, int(math.log2(count / 4 / probe)), target):
            return None
        low, probe, previous = probe, probe * 2, recall
    else:
        return None
    if low and probe > low + 1:
        middle = round(math.sqrt(low * probe))
        shorter = measure(middle)
        if _worst_recall(shorter) >= target:
            return shorter
    return trial


def _fewest_per_set(measure, tried: list[dict], target: float) -> dict[str, int]:
    """Per query set, the fewest lists probed that reach the target: the least probe tried (by _fewest_probed, for the
    worst set) at which this set does, then one geometric bisection step below it, as _fewest_probed takes. Recall
    only grows with the lists probed (more rows scored exactly), so every probe tried below the least that reached the
    target fell short of it."""
    fewest = {}
    for key in sorted(key for key in tried[0] if key.startswith("recall_")):
        high = min(trial["probe"] for trial in tried if trial[key] >= target)
        low = max((trial["probe"] for trial in tried if trial["probe"] < high), default=0)
        middle = round(math.sqrt(low * high))
        if low < middle < high and all(trial["probe"] != middle for trial in tried):
            tried.append(measure(middle))
            if tried[-1][key] >= target:
                high = middle
        fewest[key.removeprefix("recall_")] = high
    return fewest


def _worst_recall(trial: dict) -> float:
    return min(value for key, value in trial.items() if key.startswith("recall_"))


def _lists_trial(index: VectorIndex, probe: int, *, sets: list, k: int, extra: dict, trials: list) -> dict:
    """Recall on every query set with `probe` lists probed, recorded in trials."""
    index.lists.probe = probe
    recalls = _recalls(index, sets, k)
    trial = {"lists": len(index.lists), "probe": probe, **extra, **recalls}
    trials.append(trial)
    return trial


def reader_queries(vectors: np.ndarray, count: int, rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """Queries as `recommend` makes them for a reader who liked 1-5 books: their mean vector, normalised; and each
    reader's liked rows, which the answer leaves out."""
    queries = np.empty((count, vectors.shape[1]), dtype=np.float32)
    liked = []
    for i in range(count):
        rows = np.sort(rng.choice(len(vectors), size=min(int(rng.integers(1, 6)), len(vectors)), replace=False))
        mean = vectors[rows].mean(axis=0)
        queries[i] = mean / max(float(np.linalg.norm(mean)), 1e-12)
        liked.append(rows)
    return queries, liked


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
    index: VectorIndex,
    sets: list,
    n: int,
    n_trees: int,
    k: int,
    target: float,
    trials: list,
    timed: tuple[np.ndarray, np.ndarray],
    bound_ms: float,
) -> tuple[int, dict]:
    """Smallest search_k (doubling, then two geometric bisection steps) whose recall reaches the target on every
    query set. search_k = n * n_trees inspects every item, so the search always ends. A search_k at which every
    query is an exact scan has recall 1 without measuring it; one whose queries are no quicker than `bound_ms` (an
    exact scan, the lists) cannot be served, nor can a larger one, so the search goes straight to the scan."""
    ceiling = n * n_trees
    cache: dict[int, dict] = {}

    def passes(search_k: int) -> bool:
        index.search_k = search_k
        trial: dict = {"n_trees": n_trees, "search_k": search_k}
        trials.append(trial)
        if scans_everything(search_k, k, k, n):
            cache[search_k] = {f"recall_{name}": 1.0 for name, *_ in sets}
        elif _timed_ms(index, *timed, k, bound_ms, first=50) >= bound_ms:
            trial["slower_than_ms"] = bound_ms
            return False
        else:
            cache[search_k] = _recalls(index, sets, k)
        trial.update(cache[search_k])
        return min(cache[search_k].values()) >= target

    low, search_k = 0, min(ceiling, max(n_trees * CANDIDATES * k, 100))
    while not passes(search_k) and search_k < ceiling:
        if search_k not in cache:  # too slow to serve: only a scan is left
            low, search_k = 0, ceiling
            passes(search_k)
            break
        low, search_k = search_k, min(ceiling, search_k * 2)
    high = search_k
    for _ in range(2):
        if not low or high <= 1.2 * low:
            break
        middle = int(math.sqrt(low * high))
        if passes(middle):
            high = middle
        elif middle in cache:
            low = middle
        else:
            break  # the middle is too slow to serve already: keep the smallest search_k that passed
    return high, cache[high]


def _timed_ms(
    index: VectorIndex, queries: np.ndarray, own: np.ndarray, k: int, bound_ms: float, first: int = TIMING_QUERIES
) -> float:
    """Median ms of single queries over the `first` ones; at or over bound_ms, timed again over all TIMING_QUERIES and
    the lower kept, so that a load spike does not rule out a path that would win, nor the check cost much."""
    median = _time_queries(index, queries, own, k, limit=first)["median"]
    if median >= bound_ms:
        median = min(median, _time_queries(index, queries, own, k)["median"])
    return median


def _may_still_reach(previous: float | None, current: float, doublings_left: float, target: float) -> bool:
    """Whether a recall that rose from `previous` to `current` with the last doubling (of the lists probed, of the
    trees) may reach the target in `doublings_left` more: recall grows by less with each doubling (each adds what is
    further from the query), so the last gain, repeated, bounds what is left. One measurement says nothing yet. On
    vectors without structure more trees barely move the recall a forest reaches short of a scan."""
    return previous is None or current + (current - previous) * doublings_left >= target


def _reach_short_of_scan(trials: list[dict], n_trees: int, n: int, k: int) -> float:
    """The best worst-set recall of this forest's measured search_k trials that stop short of scanning every row."""
    reached = [
        _worst_recall(trial)
        for trial in trials
        if trial["n_trees"] == n_trees
        and "slower_than_ms" not in trial
        and not scans_everything(trial["search_k"], k + 1, k, n)
    ]
    return max(reached, default=0.0)


def _recalls(index: VectorIndex, sets: list, k: int) -> dict[str, float]:
    """recall_<set name> of the serving path on each query set (own rows, link vectors, readers), each searched as
    that kind of query (VectorIndex.nearest_to_vector's `queries`)."""
    return {f"recall_{name}": _recall(index, q, rows, truth, k, name) for name, q, rows, truth in sets}


def _recall(
    index: VectorIndex,
    queries: np.ndarray,
    self_rows: np.ndarray | Sequence[np.ndarray] | None,
    truth: np.ndarray,
    k: int,
    kind: str | None = None,
) -> float:
    """Recall@k of the serving path, each query's own row (or rows) left out as exact_top_k's; queries run on all cores
    (Annoy and BLAS release the GIL while searching), each in one thread."""

    def hits(i: int) -> int:
        exclude = () if self_rows is None else np.atleast_1d(self_rows[i]).tolist()
        found = index.nearest_to_vector(queries[i], k, exclude, queries=kind)
        return len({row for row, _ in found} & set(truth[i].tolist()))

    with one_blas_thread(), ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        total = sum(pool.map(hits, range(len(queries))))
    return total / truth.size


def _time_queries(
    index: VectorIndex, queries: np.ndarray, self_rows: np.ndarray, k: int, limit: int = TIMING_QUERIES
) -> dict[str, float]:
    """Latency (ms) of single queries, one at a time and in one thread as a web request makes them."""
    times = []
    with one_blas_thread():
        for i in range(min(limit, len(queries))):
            started = time.perf_counter()
            index.nearest_to_vector(queries[i], k, (int(self_rows[i]),))
            times.append((time.perf_counter() - started) * 1000)
    return {"mean": float(np.mean(times)), "median": float(np.median(times)), "p99": float(np.percentile(times, 99))}
