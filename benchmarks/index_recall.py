"""Annoy (as tuned by build_indexes) against exact numpy search: recall@10, queries/s, build time, index size.

    .venv/bin/python benchmarks/index_recall.py [--random-n 1000000] [--queries 1000] [--json out.json]

Sets: (a) the active version of ARTIFACTS_DIR (env, default var/artifacts), when there is one; its published
indexes are measured as they are (a version without indexes is indexed in a scratch folder, never in place);
(b) random unit vectors (50-d by default), the worst case for trees: no structure to exploit.
Recall and speed are measured on queries drawn afresh, not the ones the tuning used. Timings are wall clock on
whatever else the host is doing; the load average is printed alongside.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from embeddings import versions
from embeddings.indexing import build_indexes
from embeddings.search import KINDS, VectorIndex, ann_file, exact_top_k, scans_everything

DEFAULT_ARTIFACTS = Path(__file__).resolve().parents[1] / "var" / "artifacts"


def measure(folder: Path, kind: str, n_queries: int, k: int, seed: int, exact_timed: int) -> dict:
    """Recall@k and single-query speed of the Annoy path vs exact search, on rows used as queries (self excluded)."""
    info = versions.read_json(folder / "index.json")[kind]
    annoy = VectorIndex(folder, kind, mode="annoy")
    exact = VectorIndex(folder, kind, mode="exact")
    vectors = np.asarray(annoy.vectors)
    rows = np.random.default_rng(seed).choice(len(vectors), size=min(n_queries, len(vectors)), replace=False)
    truth = exact_top_k(vectors, vectors[rows], k, rows)

    started = time.perf_counter()
    found = [annoy.nearest_to_row(int(row), k) for row in rows]
    annoy_s = time.perf_counter() - started
    hits = sum(len({r for r, _ in result} & set(truth[i].tolist())) for i, result in enumerate(found))

    timed = rows[:exact_timed]
    started = time.perf_counter()
    for row in timed:
        exact.nearest_to_row(int(row), k)
    exact_s = time.perf_counter() - started

    started = time.perf_counter()  # many queries at once through BLAS: an offline job's view, not a request's
    exact_top_k(vectors, vectors[rows], k, rows)
    batch_s = time.perf_counter() - started
    return {
        "kind": kind,
        "rows": len(vectors),
        "dim": vectors.shape[1],
        "served_mode": info["mode"],
        "n_trees": info["n_trees"],
        "search_k": info["search_k"],
        # Then the Annoy path scans exactly (VectorIndex._search): no tree search is being measured.
        "annoy_path_scans": scans_everything(info["search_k"], k + 1, info["k"], len(vectors)),
        "tuned_recall": info["recall"],
        "recall": hits / truth.size,
        "queries": len(rows),
        "annoy_qps": len(rows) / annoy_s,
        "exact_qps": len(timed) / exact_s,
        "exact_batch_qps": len(rows) / batch_s,
        "build_seconds": info["build_seconds"],
        "tuning_seconds": info.get("tuning_seconds"),
        "index_mb": (folder / ann_file(kind)).stat().st_size / 1e6,
        "vectors_mb": vectors.nbytes / 1e6,
    }


def active_set(root: Path, args: argparse.Namespace, scratch: Path) -> list[dict]:
    version_id = versions.active_version_id(root)
    if version_id is None:
        print(f"(a) no active version in {root}: skipped")
        return []
    folder = versions.version_path(root, version_id)
    print(f"(a) active version {version_id} in {root}")
    if not all((folder / ann_file(kind)).is_file() for kind in KINDS) or not (folder / "index.json").is_file():
        # Versions are immutable: index a scratch folder that links to the vectors instead.
        work = scratch / "active"
        work.mkdir()
        for kind in KINDS:
            for name in (f"{kind}_vectors.npy", f"{kind}_ids.npy"):
                (work / name).symlink_to(folder / name)
        print("    no published indexes; building them in a scratch folder")
        build_indexes(work, budget_s=args.budget)
        folder = work
    return [measure(folder, kind, args.queries, 10, args.seed + 1, args.exact_queries) for kind in KINDS]


def random_set(args: argparse.Namespace, scratch: Path) -> list[dict]:
    n, dim = args.random_n, args.dim
    print(f"(b) {n:,} random unit vectors, {dim}-d")
    folder = scratch / "random"
    folder.mkdir()
    rng = np.random.default_rng(args.seed)
    vectors = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 100_000):  # chunks keep the float64 temporaries small
        block = rng.standard_normal((min(100_000, n - start), dim))
        vectors[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    np.save(folder / "book_vectors.npy", vectors)
    np.save(folder / "book_ids.npy", np.arange(n, dtype=np.int64))
    del vectors
    started = time.perf_counter()
    result = build_indexes(folder, kinds=("book",), budget_s=args.budget)
    print(f"    build_indexes: {time.perf_counter() - started:.1f} s; search:")
    for trial in result["book"]["trials"]:
        n_trees, search_k = trial["n_trees"], trial["search_k"]
        if "slower_than_ms" in trial:  # timed, no quicker than an exact scan: its recall was not measured
            print(f"      n_trees {n_trees:4d}  search_k {search_k:9,d}  slower than {trial['slower_than_ms']:.2f} ms")
        else:
            print(f"      n_trees {n_trees:4d}  search_k {search_k:9,d}  recall {trial['recall_own']:.4f}")
    return [measure(folder, "book", args.queries, 10, args.seed + 1, args.exact_queries)]


def report(label: str, row: dict) -> None:
    print(
        f"  {label:<14} rows {row['rows']:>9,}  served {row['served_mode']:<5}  n_trees {row['n_trees']}  "
        f"search_k {row['search_k']:,}{'  (so the Annoy path is an exact scan)' * row['annoy_path_scans']}\n"
        f"  {'':<14} recall@10 {row['recall']:.4f} on {row['queries']} fresh queries (tuning: "
        f"{row['tuned_recall']:.4f})\n"
        f"  {'':<14} queries/s: annoy+rerank {row['annoy_qps']:,.0f} | exact numpy one at a time "
        f"{row['exact_qps']:,.0f} | exact numpy batched {row['exact_batch_qps']:,.0f}\n"
        f"  {'':<14} build {row['build_seconds']:.1f} s (tuning in all {row['tuning_seconds'] or 0:.1f} s), "
        f"index {row['index_mb']:.1f} MB (vectors {row['vectors_mb']:.1f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--random-n", type=int, default=1_000_000, help="random vectors (0 skips the set)")
    parser.add_argument("--dim", type=int, default=50)
    parser.add_argument("--queries", type=int, default=1000, help="fresh queries for recall and Annoy speed")
    parser.add_argument("--exact-queries", type=int, default=200, help="single exact queries timed")
    parser.add_argument("--budget", type=float, default=420.0, help="tuning budget per table, seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-active", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    root = Path(os.environ.get("ARTIFACTS_DIR", DEFAULT_ARTIFACTS))
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="index-bench-") as tmp:
        if not args.skip_active:
            results["active"] = active_set(root, args, Path(tmp))
            for row in results["active"]:
                report(f"active {row['kind']}", row)
        if args.random_n > 0:
            results["random"] = random_set(args, Path(tmp))
            report("random", results["random"][0])
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
