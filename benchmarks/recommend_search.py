"""Ways to serve `recommend`'s search, measured on a version's book vectors with the queries recommend makes.

A reader's query is the normalised mean of 1-5 liked books (what benchmarks/serve_load.py sends), searched with the
liked rows excluded. For each way: recall@10 against exact search, and single-query latency (one at a time, one
thread, as a web request runs it):

- exact: the served scan (numpy einsum over every row);
- annoy: the version's Annoy forest with its candidates re-ranked exactly, over a range of search_k;
- projected: a PCA projection of the vectors to p dimensions scanned first, its top C re-ranked exactly;
- lists: k-means lists (IVF, the served mode "lists"), the rows of the `probe` lists nearest to the query scored
  exactly.

    .venv/bin/python benchmarks/recommend_search.py VERSION_FOLDER [--queries 1000]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annoy import AnnoyIndex

from embeddings.search import ClusterLists, VectorIndex, ann_file, normalise

K = 10


def reader_queries(vectors: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    liked = [rng.choice(len(vectors), size=rng.integers(1, 6), replace=False) for _ in range(n)]
    queries = np.stack([normalise(vectors[np.sort(rows)].mean(axis=0)) for rows in liked])
    return queries, liked


def truth(vectors: np.ndarray, queries: np.ndarray, liked: list[np.ndarray]) -> list[set[int]]:
    scores = queries @ vectors.T
    for i, rows in enumerate(liked):
        scores[i, rows] = -np.inf
    top = np.argpartition(-scores, K, axis=1)[:, :K]
    return [set(row.tolist()) for row in top]


def run(search, queries: np.ndarray, liked: list[np.ndarray], expected: list[set[int]]) -> tuple[float, float]:
    """(recall@K, median ms)."""
    hits, times = 0, []
    for query, rows, wanted in zip(queries, liked, expected, strict=True):
        started = time.perf_counter()
        found = search(query, rows)
        times.append((time.perf_counter() - started) * 1000)
        hits += len(set(found) & wanted)
    return hits / (K * len(queries)), float(np.median(times))


def projected_search(vectors: np.ndarray, p: int, candidates: int):
    mean_free = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(mean_free[:: max(1, len(vectors) // 20000)], full_matrices=False)
    basis = np.ascontiguousarray(vt[:p].T, dtype=np.float32)  # dim x p
    projected = np.ascontiguousarray(vectors @ basis)

    def search(query: np.ndarray, exclude: np.ndarray) -> list[int]:
        rough = np.einsum("ij,j->i", projected, query @ basis)
        rough[exclude] = -np.inf
        rows = np.sort(np.argpartition(-rough, candidates)[:candidates])
        exact = vectors[rows] @ query
        return rows[np.argsort(-exact)[:K]].tolist()

    return search


def served(index: VectorIndex):
    return lambda query, rows: [r for r, _ in index.nearest_to_vector(query, K, rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args()
    vectors = np.ascontiguousarray(np.load(options.folder / "book_vectors.npy"), dtype=np.float32)
    queries, liked = reader_queries(vectors, options.queries, options.seed)
    expected = truth(vectors, queries, liked)
    print(f"{len(vectors)} x {vectors.shape[1]} book vectors, {len(queries)} reader queries (1-5 liked books)")
    print(f"{'way':<34} {'recall@10':>9} {'median ms':>9}")

    recall, ms = run(served(VectorIndex(options.folder, "book", mode="exact")), queries, liked, expected)
    print(f"{'exact (served scan)':<34} {recall:>9.4f} {ms:>9.3f}", flush=True)

    if (options.folder / ann_file("book")).is_file():
        annoy = AnnoyIndex(vectors.shape[1], "angular")
        annoy.load(str(options.folder / ann_file("book")))
        for search_k in (1000, 2000, 4000, 8000, 16000, 32000):

            def search(query, rows, search_k=search_k):
                found = [r for r in annoy.get_nns_by_vector(query, 3 * (K + 5), search_k) if r not in rows]
                found = np.sort(np.array(found, dtype=np.int64))
                return found[np.argsort(-(vectors[found] @ query))][:K].tolist()

            recall, ms = run(search, queries, liked, expected)
            print(f"{f'annoy search_k={search_k}':<34} {recall:>9.4f} {ms:>9.3f}", flush=True)

    for p in (32, 64, 96):
        for candidates in (200, 500, 1000):
            recall, ms = run(projected_search(vectors, p, candidates), queries, liked, expected)
            print(f"{f'projected p={p} C={candidates}':<34} {recall:>9.4f} {ms:>9.3f}", flush=True)

    for per_list in (64, 32, 16):  # as build_indexes tries them; the served path of mode "lists"
        lists = ClusterLists.fit(vectors, len(vectors) // per_list, probe=8)
        index = VectorIndex.from_arrays(np.arange(len(vectors)), vectors, mode="lists", lists=lists)
        for probe in (8, 16, 32, 64):
            lists.probe = probe
            recall, ms = run(served(index), queries, liked, expected)
            print(f"{f'lists {len(lists)}, probe {probe}':<34} {recall:>9.4f} {ms:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
