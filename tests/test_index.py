"""Annoy indexes: tuned recall against exact search, index.json, exclusions, cosine values, id mapping."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from annoy import AnnoyIndex
from threadpoolctl import threadpool_info, threadpool_limits

from embeddings.indexing import (
    _fewest_per_set,
    _find_search_k,
    _may_still_reach,
    _recall,
    _time_queries,
    _tune_prefilter,
    build_indexes,
    reader_queries,
)
from embeddings.search import (
    ClusterLists,
    VectorIndex,
    _chain_order,
    _merged,
    angular_to_cosine,
    effective_search_k,
    exact_top_k,
    lists_files,
    scans_everything,
)


def random_unit(n: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def near_subspace_unit(n: int, rank: int, dim: int, seed: int) -> np.ndarray:
    """Unit vectors near a `rank`-dimensional subspace of `dim`, as trained vectors of a catalogue of subjects are,
    more or less: their first principal axes carry most of every dot product."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, rank)) @ rng.standard_normal((rank, dim)) + 0.05 * rng.standard_normal((n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def write_kind(folder: Path, kind: str, vectors: np.ndarray, ids: np.ndarray | None = None) -> None:
    np.save(folder / f"{kind}_vectors.npy", vectors)
    np.save(folder / f"{kind}_ids.npy", np.arange(len(vectors), dtype=np.int64) if ids is None else ids)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """20,000 random 50-d books (the hard case for Annoy) and 1,000 links; at most 40 trees keeps it quick. The books
    are served by Annoy whatever its speed, so its tuning goes all the way to the target short of a scan."""
    folder = tmp_path_factory.mktemp("large")
    write_kind(folder, "book", random_unit(20_000, 50, seed=1), np.arange(20_000, dtype=np.int64) * 7 + 3)
    write_kind(folder, "link", random_unit(1_000, 50, seed=2))
    result = build_indexes(
        folder, target_recall=0.99, k=10, seed=0, max_trees=40, sample_queries=300, mode={"book": "annoy"}
    )
    return folder, result


def recall_at_10(index: VectorIndex, vectors: np.ndarray, rows: np.ndarray) -> float:
    truth = exact_top_k(vectors, vectors[rows], 10, rows)
    hits = sum(
        len({r for r, _ in index.nearest_to_row(int(row), 10)} & set(truth[i].tolist())) for i, row in enumerate(rows)
    )
    return hits / truth.size


def test_recall_at_10_reaches_target_on_held_out_queries(large: tuple[Path, dict]) -> None:
    folder, result = large
    vectors = np.load(folder / "book_vectors.npy")
    index = VectorIndex(folder, "book", mode="annoy")
    assert index.annoy is not None and index.search_k == result["book"]["search_k"]
    assert not scans_everything(index.search_k, 11, 10, len(vectors))  # the trees are really searched
    # Rows not used for tuning; the stored search_k must carry over to them.
    rows = np.random.default_rng(123).choice(len(vectors), 300, replace=False)
    assert recall_at_10(index, vectors, rows) >= 0.99
    # Annoy's default search_k (n * n_trees) is nowhere near: that is why the search is tuned.
    plain = AnnoyIndex(50, "angular")
    plain.load(str(folder / "books.ann"))
    truth = exact_top_k(vectors, vectors[rows], 10, rows)
    hits = sum(len(set(plain.get_nns_by_item(int(r), 11)[1:]) & set(truth[i].tolist())) for i, r in enumerate(rows))
    assert hits / truth.size < 0.8


def test_index_json_records_the_tuned_configuration(large: tuple[Path, dict]) -> None:
    folder, result = large
    stored = json.loads((folder / "index.json").read_text())
    assert stored == json.loads(json.dumps(result))
    assert stored["target_recall"] == 0.99 and stored["k"] == 10
    for kind, rows in (("book", 20_000), ("link", 1_000)):
        info = stored[kind]
        assert info["rows"] == rows and info["dim"] == 50
        assert info["recall"] >= 0.99
        assert info["n_trees"] in (10, 20, 40) and info["search_k"] > 0 and info["candidates"] >= 1
        assert info["file_bytes"] == (folder / info["file"]).stat().st_size > 0
        assert info["build_seconds"] > 0 and info["query_ms_mean"] > 0 and info["query_ms_p99"] >= 0
        assert info["mode"] in ("annoy", "exact")
        # The stored search_k is the smallest tried on the kept forest that passed on every query set.
        tried = [t for t in info["trials"] if t["n_trees"] == info["n_trees"] and "slower_than_ms" not in t]
        passing = [t["search_k"] for t in tried if min(v for key, v in t.items() if key.startswith("recall")) >= 0.99]
        assert min(passing) == info["search_k"]
    assert stored["book"]["cross_recall"] >= 0.99  # link vectors against the book index (books_for_link)
    assert stored["link"]["mode"] == "exact"  # 1,000 rows: a numpy scan is the faster path
    assert not list(folder.glob("*.tmp"))


def test_annoy_distance_converts_to_cosine(large: tuple[Path, dict]) -> None:
    folder, _ = large
    vectors = np.load(folder / "book_vectors.npy")
    annoy = AnnoyIndex(50, "angular")
    annoy.load(str(folder / "books.ann"))
    rows, distances = annoy.get_nns_by_vector(vectors[5], 20, search_k=5_000, include_distances=True)
    for row, distance in zip(rows, distances, strict=True):
        assert angular_to_cosine(distance) == pytest.approx(float(vectors[row] @ vectors[5]), abs=1e-5)
    assert angular_to_cosine(0.0) == 1.0 and angular_to_cosine(2.0) == -1.0


@pytest.mark.parametrize("mode", ["annoy", "exact"])
def test_results_exclude_the_query_and_given_rows(large: tuple[Path, dict], mode: str) -> None:
    folder, _ = large
    vectors = np.load(folder / "book_vectors.npy")
    index = VectorIndex(folder, "book", mode=mode)
    found = index.nearest_to_row(42, 10)
    rows = [row for row, _ in found]
    assert len(found) == 10 and 42 not in rows
    # Similarities are exact dot products, best first.
    sims = [sim for _, sim in found]
    assert sims == sorted(sims, reverse=True)
    assert sims == pytest.approx([float(vectors[r] @ vectors[42]) for r in rows], abs=1e-6)
    again = index.nearest_to_row(42, 10, exclude_rows=rows[:3])
    assert not {42, *rows[:3]} & {row for row, _ in again}
    assert [row for row, _ in again][:7] == rows[3:10]
    # A query vector equal to a stored row finds that row unless it is excluded.
    assert index.nearest_to_vector(vectors[42] * 3.0, 1)[0][0] == 42
    assert index.nearest_to_vector(vectors[42], 1, exclude_rows=[42])[0][0] == rows[0]


def test_annoy_and_exact_agree_and_many_exclusions_fall_back(large: tuple[Path, dict]) -> None:
    folder, _ = large
    annoy, exact = VectorIndex(folder, "book", mode="annoy"), VectorIndex(folder, "book", mode="exact")

    def same(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> bool:
        return [r for r, _ in a] == [r for r, _ in b] and [s for _, s in a] == pytest.approx([s for _, s in b])

    assert same(annoy.nearest_to_row(7, 5), exact.nearest_to_row(7, 5))
    excluded = [row for row, _ in exact.nearest_to_row(7, 3000)]  # far deeper than search_k was tuned for
    assert same(annoy.nearest_to_row(7, 5, excluded), exact.nearest_to_row(7, 5, excluded))


def test_id_mapping_and_bad_queries(tmp_path: Path) -> None:
    ids = np.array([50, 10, 40, 20, 30], dtype=np.int64)  # unsorted catalogue ids
    write_kind(tmp_path, "book", random_unit(5, 8, seed=3), ids)
    write_kind(tmp_path, "link", random_unit(3, 8, seed=4))
    build_indexes(tmp_path)
    index = VectorIndex(tmp_path, "book")
    assert index.mode == "exact"  # tiny table
    assert [index.row_of_id(i) for i in (50, 10, 40, 20, 30)] == [0, 1, 2, 3, 4]
    assert [index.id_of_row(r) for r in range(5)] == [50, 10, 40, 20, 30]
    assert 40 in index and 41 not in index and "x" not in index
    with pytest.raises(KeyError):
        index.row_of_id(41)
    # many at once: the rows of the known ids, and the unknown ones in the order given (one lookup, or one by one
    # for what is not an int64)
    assert index.rows_of_ids([30, 41, 50, 5, 20]) == ([4, 0, 3], [41, 5])
    assert index.rows_of_ids([2**70, 40, "x"]) == ([2], [2**70, "x"])
    assert index.rows_of_ids([]) == ([], [])
    assert len(index.nearest_to_row(0, 100)) == 4  # k is capped by what is left
    assert index.nearest_to_row(0, 0) == []
    with pytest.raises(ValueError):
        index.nearest_to_vector(np.zeros(8), 3)
    with pytest.raises(ValueError):
        index.nearest_to_vector(np.ones(9), 3)
    with pytest.raises(IndexError):
        index.nearest_to_row(5, 3)


def test_small_table_is_served_exactly_but_annoy_still_works(tmp_path: Path) -> None:
    vectors = random_unit(3_000, 16, seed=5)
    write_kind(tmp_path, "book", vectors)
    write_kind(tmp_path, "link", random_unit(100, 16, seed=6))
    info = build_indexes(tmp_path, sample_queries=200)["book"]
    assert info["mode"] == "exact" and info["recall"] >= 0.99 and (tmp_path / "books.ann").is_file()
    exact = VectorIndex(tmp_path, "book")
    assert exact.mode == "exact" and exact.annoy is None
    expected = exact_top_k(vectors, vectors[[9]], 10, np.array([9]))[0].tolist()
    assert [row for row, _ in exact.nearest_to_row(9, 10)] == expected
    assert recall_at_10(VectorIndex(tmp_path, "book", mode="annoy"), vectors, np.arange(0, 3_000, 15)) >= 0.99


def test_forced_annoy_mode_is_recorded(tmp_path: Path) -> None:
    write_kind(tmp_path, "book", random_unit(500, 8, seed=7))
    write_kind(tmp_path, "link", random_unit(50, 8, seed=8))
    result = build_indexes(tmp_path, mode="annoy", sample_queries=100)
    assert result["book"]["mode"] == result["link"]["mode"] == "annoy"
    assert VectorIndex(tmp_path, "link").mode == "annoy"


def test_a_prefilter_serves_structured_vectors_at_the_recall_target(tmp_path: Path) -> None:
    """Vectors near a 12-dimensional subspace of 48 (as trained vectors of a catalogue of subjects are, more or
    less): scanning their first principal axes finds candidates that hold the true top 10."""
    vectors = near_subspace_unit(6_000, 12, 48, seed=5)
    write_kind(tmp_path, "book", vectors)
    write_kind(tmp_path, "link", random_unit(500, 48, seed=3))
    result = build_indexes(
        tmp_path, target_recall=0.99, k=10, seed=0, max_trees=10, sample_queries=200, mode={"book": "projected"}
    )
    assert result["book"]["mode"] == "projected"
    chosen = result["book"]["prefilter"]
    assert chosen["dims"] in (12, 16, 24) and chosen["candidates"] * 4 <= len(vectors)
    assert min(chosen["recall_own"], chosen["recall_cross"], chosen["recall_reader"]) >= 0.99
    assert (tmp_path / "book_basis.npy").is_file() and (tmp_path / "book_projected.npy").is_file()
    index = VectorIndex(tmp_path, "book", mode="projected")
    assert index.prefilter is not None and index.prefilter.candidates == chosen["candidates"]
    rows = np.random.default_rng(9).choice(len(vectors), 200, replace=False)
    assert recall_at_10(index, vectors, rows) >= 0.99  # held-out rows
    found = index.nearest_to_row(7, 10, exclude_rows=range(8, 20))
    assert len(found) == 10 and not {r for r, _ in found} & {7, *range(8, 20)}
    many = index.nearest_to_row(0, 5, exclude_rows=range(1, 5_990))  # more than the candidates: exact fallback
    assert len(many) == 5 and {r for r, _ in many} <= set(range(5_990, 6_000))
    assert result["link"]["mode"] == "exact" and "prefilter" not in result["link"]  # 500 rows: a scan


def clustered_unit(n: int, dim: int, clusters: int, spread: float, seed: int) -> np.ndarray:
    """Unit vectors around `clusters` random centres, as a catalogue of subjects gives."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    vectors = centres[rng.integers(clusters, size=n)] + spread * rng.standard_normal((n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def test_cluster_lists_hold_every_row_once_in_its_nearest_list() -> None:
    vectors = clustered_unit(3_000, 16, 20, 0.4, seed=4)
    lists = ClusterLists.fit(vectors, 50, probe=5, seed=1)
    centres, rows, starts = lists.centres, lists.rows, lists.starts
    assert centres.shape == (50, 16) and np.allclose(np.linalg.norm(centres, axis=1), 1.0, atol=1e-5)
    assert sorted(rows.tolist()) == list(range(3_000)) and starts[0] == 0 and starts[-1] == 3_000
    assert np.all(np.diff(starts) >= 0) and np.array_equal(lists.vectors, vectors[rows])
    for c in (0, 17, 49):
        members = vectors[rows[starts[c] : starts[c + 1]]]
        assert np.all(np.argmax(members @ centres.T, axis=1) == c)
    query = vectors[123]
    found, scores = lists.scores(query, 5)
    nearest = np.argsort(-(centres @ query))[:5]
    expected = np.concatenate([rows[starts[c] : starts[c + 1]] for c in nearest])
    assert sorted(found.tolist()) == sorted(expected.tolist()) and 123 in found.tolist()
    assert np.allclose(scores, vectors[found] @ query, atol=1e-6)


def test_lists_are_stored_as_a_chain_of_near_centres_and_probed_lists_read_as_blocks() -> None:
    """Each centre is followed by its nearest one not yet placed, so the lists a query probes often lie next to each
    other in the file: they are read as fewer, longer blocks than in the order k-means left them."""
    vectors = clustered_unit(6_000, 16, 40, 0.5, seed=8)
    lists = ClusterLists.fit(vectors, 200, probe=12, seed=2)
    centres = lists.centres
    for i in range(len(centres) - 1):
        remaining = centres[i + 1 :] @ centres[i]
        assert remaining[0] == remaining.max()
    unordered = np.random.default_rng(3).permutation(len(centres))  # any other order, for comparison

    def blocks(order: np.ndarray, query: np.ndarray) -> int:
        position = np.empty(len(order), dtype=np.int64)
        position[order] = np.arange(len(order))
        probed = sorted(position[np.argsort(-(centres @ query))[:12]].tolist())
        return len(_merged([(p, p + 1) for p in probed]))

    queries = vectors[:300]
    chained = np.mean([blocks(np.arange(len(centres)), q) for q in queries])
    shuffled = np.mean([blocks(unordered, q) for q in queries])
    assert chained < 0.8 * shuffled, (chained, shuffled)
    assert _chain_order(centres) == list(range(len(centres)))  # already a chain: ordering it again keeps it


def test_each_query_set_gets_the_fewest_lists_that_reach_the_target() -> None:
    """From the probes tried for the worst set, then one geometric bisection step below the least that passed."""
    recalls = {"own": {8: 0.995}, "cross": {8: 0.95, 16: 0.985, 32: 0.993, 23: 0.991}, "reader": {8: 0.97, 16: 0.991}}

    def measure(probe: int) -> dict:
        measured.append(probe)
        return {"probe": probe, **{f"recall_{name}": curve(probe) for name, curve in curves.items()}}

    def step(points: dict[int, float]):  # recall at a probe: that of the largest probe given at or below it
        return lambda probe: max(value for at, value in points.items() if at <= probe)

    curves = {name: step(points) for name, points in recalls.items()}
    measured: list[int] = []
    tried = [measure(probe) for probe in (8, 16, 32, 23)]  # what _fewest_probed tried for the worst set
    assert _fewest_per_set(measure, tried, 0.99) == {"cross": 23, "own": 8, "reader": 16}
    assert measured[4:] == [19, 11]  # cross between 16 and 23, reader between 8 and 16; own passed at the first


def test_exact_top_k_leaves_out_each_querys_own_rows() -> None:
    vectors = random_unit(400, 8, seed=2)
    queries = vectors[[3, 50]]
    liked = [np.array([3, 7]), np.array([50])]
    found = exact_top_k(vectors, queries, 5, liked)
    for query, rows, top in zip(queries, liked, found, strict=True):
        scores = vectors @ query
        scores[rows] = -np.inf
        assert top.tolist() == np.argsort(-scores)[:5].tolist()
    assert np.array_equal(
        exact_top_k(vectors, queries, 5, np.array([3, 50])), exact_top_k(vectors, queries, 5, [[3], [50]])
    )


def test_adjacent_spans_are_read_as_one() -> None:
    assert _merged([(0, 3), (3, 5), (7, 9), (9, 10), (12, 12)]) == [(0, 5), (7, 10), (12, 12)]
    assert _merged([(4, 6)]) == [(4, 6)] and _merged([]) == []


def test_cluster_lists_serve_structured_vectors_at_the_recall_target(tmp_path: Path) -> None:
    """Vectors around 120 subjects: scoring only the rows of the lists nearest to a query finds the true top 10."""
    vectors = clustered_unit(8_000, 32, 120, 0.35, seed=6)
    write_kind(tmp_path, "book", vectors)
    write_kind(tmp_path, "link", clustered_unit(400, 32, 120, 0.35, seed=6))
    result = build_indexes(tmp_path, target_recall=0.99, k=10, seed=0, max_trees=10, sample_queries=200)
    chosen = result["book"]["lists"]
    assert chosen["probe"] * 4 <= chosen["lists"]
    assert min(chosen["recall_own"], chosen["recall_cross"], chosen["recall_reader"]) >= 0.99
    # each kind of query probes the fewest lists its own set needed, no more than the most any set needed
    probes = chosen["probes"]
    assert set(probes) == {"own", "cross", "reader"} and max(probes.values()) <= chosen["probe"]
    tried = [trial for trial in chosen["trials"] if trial["lists"] == chosen["lists"]]
    for name, probe in probes.items():
        assert next(t for t in tried if t["probe"] == probe)[f"recall_{name}"] >= 0.99
        assert all(t[f"recall_{name}"] < 0.99 for t in tried if t["probe"] < probe)
    assert all((tmp_path / name).is_file() for name in lists_files("book"))
    index = VectorIndex(tmp_path, "book", mode="lists")
    assert index.lists is not None and index.lists.probe == chosen["probe"] and index.lists.probes == probes
    assert index.lists.probe_for("reader") == probes["reader"] and index.lists.probe_for(None) == chosen["probe"]
    # held-out readers, their liked books left out as recommend leaves them out, at the readers' own probe
    readers, liked = reader_queries(vectors, 300, np.random.default_rng(12))
    truth = exact_top_k(vectors, readers, 10, liked)
    assert _recall(index, readers, liked, truth, 10, "reader") >= 0.99
    # rows are read from the lists' own copy (the version's vectors file is not mapped too), in row order
    assert np.array_equal(index.vectors[[3, 7_999, 0]], vectors[[3, 7_999, 0]])
    assert np.array_equal(index.vector(42), vectors[42]) and len(index.vectors) == len(vectors)
    assert np.allclose(index.vectors @ vectors[5], vectors @ vectors[5], atol=1e-6)
    rows = np.random.default_rng(9).choice(len(vectors), 200, replace=False)
    assert recall_at_10(index, vectors, rows) >= 0.99  # held-out rows
    found = index.nearest_to_row(7, 10, exclude_rows=range(8, 20))
    assert len(found) == 10 and not {r for r, _ in found} & {7, *range(8, 20)}
    exact = VectorIndex(tmp_path, "book", mode="exact")
    assert [r for r, _ in found][:3] == [r for r, _ in exact.nearest_to_row(7, 10, exclude_rows=range(8, 20))][:3]
    many = index.nearest_to_row(0, 5, exclude_rows=range(1, 7_990))  # fewer rows left in the lists: exact fallback
    assert len(many) == 5 and {r for r, _ in many} <= set(range(7_990, 8_000))
    assert "lists" not in result["link"]  # 400 rows: a scan


def test_lists_reach_the_target_or_are_not_offered(large: tuple[Path, dict]) -> None:
    """On structureless vectors no probe below a quarter of the lists reaches 0.99: the path is not offered."""
    _, result = large
    info = result["book"]
    lists = info["lists"]
    if lists["query_ms_median"] is None:
        # given up early: one number of lists, stopped once its recall could not reach 0.99 by a quarter of them
        assert info["mode"] != "lists" and 2 <= len(lists["trials"]) <= 4
        assert len({trial["lists"] for trial in lists["trials"]}) == 1
    else:
        assert min(lists["recall_own"], lists["recall_cross"], lists["recall_reader"]) >= 0.99


def test_searches_slower_than_a_scan_are_not_measured(tmp_path: Path) -> None:
    """A search no quicker than the bound (an exact scan, the lists) cannot be served: its recall is not measured,
    Annoy's tuning goes straight to the scan (recall 1 by construction) and narrower projections are not tried."""
    vectors = random_unit(6_000, 32, seed=11)
    write_kind(tmp_path, "book", vectors)
    own = np.arange(0, 6_000, 30)
    sets = [("own", vectors[own], own, exact_top_k(vectors, vectors[own], 10, own))]
    annoy = AnnoyIndex(32, "angular")
    for row, vec in enumerate(vectors):
        annoy.add_item(row, vec)
    annoy.build(10)
    index = VectorIndex.from_arrays(np.arange(6_000), vectors, annoy, mode="annoy", tuned_k=10)
    trials: list[dict] = []
    search_k, recalls = _find_search_k(index, sets, 6_000, 10, 10, 0.99, trials, (vectors[own], own), 0.0)
    assert search_k == 60_000 and recalls == {"recall_own": 1.0}  # the scan
    assert [t["search_k"] for t in trials] == [300, 60_000]
    assert trials[0]["slower_than_ms"] == 0.0 and "recall_own" not in trials[0]

    result = _tune_prefilter(tmp_path, "book", vectors, sets, own, 10, 0.99, bound_ms=0.0)
    assert result["query_ms_median"] is None and not (tmp_path / "book_basis.npy").exists()
    assert [(t["dims"], t["candidates"]) for t in result["trials"]] == [(16, 250), (10, 250), (8, 250)]
    assert all("recall_own" not in t and t["query_ms_median"] >= t["slower_than_ms"] for t in result["trials"])


def test_narrower_projections_start_where_the_wider_one_passed(tmp_path: Path) -> None:
    """A narrower projection's axes are the first of the wider one's, so it needs at least as many candidates."""
    vectors = near_subspace_unit(6_000, 12, 48, seed=5)
    own = np.arange(0, 6_000, 30)
    sets = [("own", vectors[own], own, exact_top_k(vectors, vectors[own], 10, own))]
    result = _tune_prefilter(tmp_path, "book", vectors, sets, own, 10, 0.99, bound_ms=math.inf)
    trials = result["trials"]
    assert [t["dims"] for t in trials] == sorted((t["dims"] for t in trials), reverse=True)  # widest first
    assert [t["candidates"] for t in trials] == sorted(t["candidates"] for t in trials)
    assert trials[0]["dims"] == 24 and trials[0]["candidates"] == 250
    passed = [t for t in trials if t.get("recall_own", 0.0) >= 0.99]
    # once one passed, narrower ones no quicker than it were timed, not measured
    assert all("recall_own" in t or t["query_ms_median"] >= t["slower_than_ms"] for t in trials)
    assert passed and result["query_ms_median"] == min(t["query_ms_median"] for t in passed)


def test_a_forest_that_must_scan_is_doubled_only_while_its_recall_climbs() -> None:
    # recall short of a scan from the full-scale generated graph's vectors: 10 -> 20 trees, no gain
    assert not _may_still_reach(0.848, 0.8416, math.log2(160 / 20), 0.99)
    assert _may_still_reach(None, 0.5, math.log2(160 / 10), 0.99)  # one forest says nothing of the next
    assert _may_still_reach(0.80, 0.90, math.log2(160 / 20), 0.99)  # +0.10 a doubling, three doublings left
    assert not _may_still_reach(0.85, 0.90, math.log2(160 / 80), 0.99)  # +0.05 and one doubling left


def blas_threads() -> set[int]:
    return {pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}


def test_the_tuning_times_and_measures_searches_in_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """As web processes run them (recommender/wsgi.py): a product spread over all cores would time otherwise."""
    vectors = clustered_unit(500, 16, 5, 0.4, seed=2)
    index = VectorIndex.from_arrays(np.arange(500, dtype=np.int64), vectors, mode="exact")
    seen: set[int] = set()
    search = index.nearest_to_vector

    def recording(*args, **kwargs):
        seen.update(blas_threads())
        return search(*args, **kwargs)

    monkeypatch.setattr(index, "nearest_to_vector", recording)
    own = np.arange(20)
    with threadpool_limits(limits=2, user_api="blas"):  # the worker's own setting, whatever the host has
        _time_queries(index, vectors[own], own, 10)
        assert _recall(index, vectors[own], own, exact_top_k(vectors, vectors[own], 10, own), 10) == 1.0
        outside = blas_threads()
    assert seen == {1} and outside == {2}


def test_lists_answer_the_best_rows_of_the_probed_lists_that_are_not_excluded() -> None:
    """Only the top rows are checked against the exclusions: the answer is still the best k of the probed rows that
    are not excluded, ties broken by row, even when most of the best rows are excluded or tied."""
    vectors = clustered_unit(2_000, 16, 10, 0.3, seed=3)
    vectors[100:140] = vectors[100]  # 40 rows tied with each other
    lists = ClusterLists.fit(vectors, 20, probe=4, seed=0)
    index = VectorIndex.from_arrays(np.arange(2_000), vectors, mode="lists", lists=lists)
    exact = VectorIndex.from_arrays(np.arange(2_000), vectors, mode="exact")
    for query_row, excluded in [(100, set(range(100, 130))), (7, {7}), (100, set()), (5, set(range(0, 2_000, 2)))]:
        query = vectors[query_row]
        depth = 10 + len(excluded)
        probe = effective_search_k(lists.probe, depth, 10)
        rows, scores = lists.scores(query, probe)
        allowed = [(float(s), int(r)) for r, s in zip(rows, scores, strict=True) if int(r) not in excluded]
        expected = [r for _, r in sorted(allowed, key=lambda item: (-item[0], item[1]))[:10]]
        found = [r for r, _ in index.nearest_to_vector(query, 10, excluded)]
        if len(rows) >= depth:
            assert found == expected, query_row
        else:  # fewer probed rows than asked for and excluded: an exact scan answers
            assert found == [r for r, _ in exact.nearest_to_vector(query, 10, excluded)]
