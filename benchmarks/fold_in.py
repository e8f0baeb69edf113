"""Fold-in (issue 13): how fast a new book gets recommendations, and how good its folded-in vector is.

    .venv/bin/python benchmarks/fold_in.py                 # both parts, sample and goodbooks
    .venv/bin/python benchmarks/fold_in.py --quick         # goodbooks with fewer epochs, 30 books in the speed part
    .venv/bin/python benchmarks/fold_in.py --skip-speed    # quality only (no PostgreSQL, Redis or worker)

Quality, per source: 5% of the books (seeded) are hidden. The reduced model is trained, with the default
TrainParams, on the catalogue without them (its own link vocabulary, as a real version would have), and the hidden
books are folded in (embeddings/fold_in.py) from their links. The full model is trained on every book. Before
either, 10% of the links of each hidden book with >= 5 links are held out of both. On the hidden books only:
same-author and same-series recall@10 and genre precision@10 of their 10 nearest books, and held-out link AUC
(held-out pairs against 10 uniformly drawn non-links each, links both vocabularies know), in two tables that each
compare like with like:
- embedding: the 10 nearest by cosine (every other book with a vector a candidate), folded in against full
  training against the TF-IDF vector of the same links (cosine over the book x link TF-IDF matrix; for the AUC a
  link is scored by the votes of the 50 most similar books);
- served: what `similar` answers (embeddings/hybrid.py's Blend.nearest: embedding + TF-IDF, then the query's series
  and author). Folded in: the reduced version's blend with the hidden books added by Blend.with_overlay, as a web
  process serves an overlay, with their author and series as fold-in stores them; full training: the blend
  evaluation scores as "served"; baseline: TF-IDF with the same series and author terms. (Served link scores are
  the embedding's: the AUC is in the first table.)
Targets, in each table: folded >= 95% of full, and > the baseline. Also printed: how many of the hidden books'
links the reduced version lacks (used by fewer than min_link_count books without them), how many of those another
book uses, and how many a book by the same author uses: evidence full training and TF-IDF have and fold-in has not.

Speed: the sample imported into a fresh PostgreSQL database, a quick model (3 epochs) trained, a Celery worker
started on Redis. Each new book (the links of a random sample book, less one, plus a link no book had) is saved
as the admin saves it (a transaction creating the book and its links, whose commit queues the fold-in), then its
`/api/books/<id>/similar/` is asked through Django in this process (a web process: it notices the overlay within
serving.CHECK_INTERVAL) until it answers 200. Targets: median save -> first answer <= 1 s, fold-in alone <= 20 ms.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only")
DATA = ROOT.parent / "shared" / "data"
PG = os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/5")
HIDDEN = 0.05
K = 10


def verdict(ok: bool) -> str:
    return "MEETS" if ok else "MISSES"


# --- quality -----------------------------------------------------------------------------------------------------


def nearest(vectors: np.ndarray, queries: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """The K nearest other rows (among rows with a vector) of each query row, by dot product."""
    scores = vectors[queries] @ vectors.T
    scores[:, ~valid] = -np.inf
    scores[np.arange(len(queries)), queries] = -np.inf
    return np.argsort(-scores, axis=1)[:, :K]


def book_scores(neighbours: np.ndarray, queries: np.ndarray, data) -> dict[str, float | None]:
    """Same-author and same-series recall@10, genre precision@10 of each query's neighbours (rows of `data`)."""
    from embeddings.evaluation import group_codes

    out: dict[str, float | None] = {}
    for metric, labels in (("author_recall@10", data.book_authors), ("series_recall@10", data.book_series)):
        codes = group_codes(labels, data.n_books)
        sizes = np.bincount(codes[codes >= 0], minlength=1)
        grouped = (codes[queries] >= 0) & (sizes[np.maximum(codes[queries], 0)] >= 2)
        out[metric] = None
        if grouped.any():
            q, nb = queries[grouped], neighbours[grouped]
            out[metric] = float(((codes[nb] == codes[q][:, None]).sum(axis=1) / (sizes[codes[q]] - 1)).mean())
    genres = data.book_genres
    with_genre = [i for i, q in enumerate(queries) if genres[q]]
    out["genre_precision@10"] = None
    if with_genre:
        out["genre_precision@10"] = float(
            np.mean([[n >= 0 and bool(genres[queries[i]] & genres[n]) for n in neighbours[i]] for i in with_genre])
        )
    return out


def served_nearest(blend, query_rows: np.ndarray, to_full: np.ndarray) -> np.ndarray:
    """Blend.nearest (what `similar` serves) of each query row, as rows of the full data (-1 pads a short answer)."""
    out = np.full((len(query_rows), K), -1, dtype=np.int64)
    for i, row in enumerate(query_rows):
        found = [to_full[r] for r, _ in blend.nearest(int(row), K)]
        out[i, : len(found)] = found
    return out


def quality(source: str, quick: bool, seed: int = 1) -> dict:
    from sklearn.metrics import roc_auc_score

    from embeddings.book_groups import BookGroups
    from embeddings.book_space import StackedRows
    from embeddings.dataset import build_training_data, frames_from_records
    from embeddings.evaluation import TfidfScorer
    from embeddings.fold_in import FoldInModel
    from embeddings.hybrid import Blend, tfidf_matrix
    from embeddings.params import TrainParams
    from embeddings.rare_links import RareLinks
    from embeddings.training import train

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from train_quality import load_records

    books, pairs = frames_from_records(load_records(source))
    full = build_training_data(books, pairs)
    rng = np.random.default_rng(seed)
    hidden_rows = np.sort(rng.choice(full.n_books, size=round(HIDDEN * full.n_books), replace=False))
    hidden_ids = full.book_ids[hidden_rows]
    # held out of both models: 10% of the links of each hidden book with >= 5 links
    held = np.zeros(len(full.pairs), dtype=bool)
    for row in hidden_rows:
        at = np.flatnonzero(full.pairs[:, 0] == row)
        if len(at) >= 5:
            held[rng.choice(at, size=max(1, round(0.1 * len(at))), replace=False)] = True
    train_pairs = full.pairs[~held]
    params = TrainParams(seed=seed, epochs=3 if quick and source == "goodbooks" else None)

    started = time.perf_counter()
    full_model = train(full.with_pairs(train_pairs), params)
    full_seconds = time.perf_counter() - started
    kept = pairs[~pairs["book_id"].isin(hidden_ids)]
    reduced = build_training_data(books[~books["id"].isin(hidden_ids)], kept, full.min_link_count)
    started = time.perf_counter()
    reduced_model = train(reduced, params)
    reduced_seconds = time.perf_counter() - started

    resolved = params.resolved(reduced.n_pairs)
    fold_params = {**resolved.to_dict(), **reduced.summary()}
    counts = np.bincount(reduced.pairs[:, 1], minlength=reduced.n_links)
    model = FoldInModel(
        reduced.link_ids,
        reduced_model.link_vectors,
        counts,
        reduced_model.output_layer,
        fold_params,
        rare_links=RareLinks(reduced.rare_pairs),
        book_vectors=reduced_model.book_vectors,
    )
    vectors = np.zeros((full.n_books, full_model.book_vectors.shape[1]), dtype=np.float32)
    valid = np.zeros(full.n_books, dtype=bool)
    base_rows = np.searchsorted(full.book_ids, reduced.book_ids)
    vectors[base_rows], valid[base_rows] = reduced_model.book_vectors, True
    fold_seconds, unknown, without, rare_used = [], 0, 0, 0
    folded_rows, folded_links, folded_known = [], [], []
    full_counts = np.bincount(train_pairs[:, 1], minlength=full.n_links)
    lost = {"links": 0, "shared": 0, "author_links": 0}  # links of hidden books the reduced version lacks
    for row in hidden_rows:
        own_rows = train_pairs[train_pairs[:, 0] == row, 1]
        result = model.fold(full.link_ids[own_rows], int(full.book_ids[row]))
        fold_seconds.append(result.seconds)
        unknown += len(result.unknown_link_ids)
        rare_used += len(result.rare_link_ids)
        missing = own_rows[~np.isin(full.link_ids[own_rows], reduced.link_ids)]
        lost["links"] += len(missing)
        lost["shared"] += int((full_counts[missing] >= 2).sum())  # another book uses it: evidence fold-in loses
        lost["author_links"] += _author_links(full, train_pairs, row, missing)
        if result.vector is None:
            without += 1
            continue
        vectors[row], valid[row] = result.vector, True
        folded_rows.append(row)
        folded_links.append(result.tfidf_columns)  # its known links, then its rare ones
        folded_known.append(result.link_rows)

    queries = hidden_rows[valid[hidden_rows]]
    # Diagnostic: the same books folded into the full model's frozen links (every link of theirs known, the other
    # books trained with them): what is left of the gap is the fold-in itself, the rest is the reduced version's.
    full_data = full.with_pairs(train_pairs)
    full_fold = FoldInModel(
        full.link_ids,
        full_model.link_vectors,
        np.bincount(train_pairs[:, 1], minlength=full.n_links),
        full_model.output_layer,
        {**params.resolved(full_data.n_pairs).to_dict(), **full_data.summary()},
    )
    into_full = np.array(full_model.book_vectors, dtype=np.float32)
    for row in queries:
        into_full[row] = full_fold.fold(full.link_ids[train_pairs[train_pairs[:, 0] == row, 1]], int(row)).vector
    # Ablation: the same books folded from the reduced version's own links only, its rare links (RareLinks) unused.
    without_rare = np.array(vectors)
    plain = FoldInModel(reduced.link_ids, reduced_model.link_vectors, counts, reduced_model.output_layer, fold_params)
    for row in queries:
        folded = plain.fold(full.link_ids[train_pairs[train_pairs[:, 0] == row, 1]], int(full.book_ids[row]))
        if folded.vector is not None:
            without_rare[row] = folded.vector
    tfidf = TfidfScorer(train_pairs, full.n_books, full.n_links)
    tfidf_vectors = tfidf.tfidf
    embedding = {
        "folded in": book_scores(nearest(vectors, queries, valid), queries, full),
        "full training": book_scores(nearest(full_model.book_vectors, queries, valid), queries, full),
    }
    diagnostic = book_scores(nearest(into_full, queries, valid), queries, full)
    ablation = book_scores(nearest(without_rare, queries, valid), queries, full)
    tfidf_scores = np.asarray((tfidf_vectors[queries] @ tfidf_vectors.T).todense())
    tfidf_scores[:, ~valid] = -np.inf
    tfidf_scores[np.arange(len(queries)), queries] = -np.inf
    embedding["TF-IDF of the links"] = book_scores(np.argsort(-tfidf_scores, axis=1)[:, :K], queries, full)

    # Served: Blend.nearest as `similar` serves it. Folded in: the reduced version's blend (its TF-IDF, its books'
    # groups) with the hidden books put in through with_overlay, exactly as a web process serves an overlay, their
    # author and series as fold_books stores them. Full training: the blend evaluate() scores as "served", on the
    # same candidate books (rows without a vector in the folded-in world are no candidates).
    n_reduced = reduced.n_books
    folded_rows = np.asarray(folded_rows, dtype=np.int64)
    base_blend = Blend(
        reduced_model.book_vectors,
        tfidf_matrix(reduced.pairs, n_reduced, reduced.n_links),
        groups=BookGroups.from_labels(reduced.book_authors, reduced.book_series, n_reduced),
        rare=RareLinks(reduced.rare_pairs),
    )
    authors = [str(a) for a in full.book_authors[folded_rows]]
    series = [str(x) for x in full.book_series[folded_rows]] if full.book_series is not None else None

    def with_folded(folded_vectors: np.ndarray, columns: list[np.ndarray]) -> Blend:
        """The reduced version's blend with the folded books put in as a web process serves its overlay."""
        indptr = np.concatenate([[0], np.cumsum([len(x) for x in columns])]).astype(np.int64)
        stacked = StackedRows(reduced_model.book_vectors, folded_vectors[folded_rows])
        empty = np.zeros(0, dtype=np.int64)
        return base_blend.with_overlay(
            stacked, indptr, np.concatenate(columns).astype(np.int32), empty, authors, series
        )

    served_folded = with_folded(vectors, folded_links)
    to_full = np.concatenate([base_rows, folded_rows])
    overlay_row = {int(r): n_reduced + i for i, r in enumerate(folded_rows)}
    query_rows = np.array([overlay_row[int(q)] for q in queries], dtype=np.int64)
    groups = BookGroups.from_labels(full.book_authors, full.book_series, full.n_books)
    full_tfidf = tfidf_matrix(train_pairs, full.n_books, full.n_links)
    served_full = Blend(full_model.book_vectors, full_tfidf, groups=groups)
    served_full.hidden = np.flatnonzero(~valid)
    # The baseline with the same explicit terms: TF-IDF cosine plus the series and author weights (no embedding).
    flat = np.full((full.n_books, 1), 1.0, dtype=np.float32)
    tfidf_groups = Blend(flat, full_tfidf, tfidf_weight=1.0, groups=groups)
    tfidf_groups.hidden = served_full.hidden
    identity = np.arange(full.n_books)
    served = {
        "folded in": book_scores(served_nearest(served_folded, query_rows, to_full), queries, full),
        "full training": book_scores(served_nearest(served_full, queries, identity), queries, full),
        "TF-IDF + series/author": book_scores(served_nearest(tfidf_groups, queries, identity), queries, full),
    }

    # Ablation: served as without the rare links (vectors folded from known links only, no rare TF-IDF columns).
    plain_served = with_folded(without_rare, folded_known)
    served_ablation = book_scores(served_nearest(plain_served, query_rows, to_full), queries, full)

    # held-out link AUC, on links both vocabularies know
    reduced_row = {int(i): r for r, i in enumerate(reduced.link_ids)}
    held_pairs = full.pairs[held]
    held_pairs = held_pairs[valid[held_pairs[:, 0]] & np.isin(full.link_ids[held_pairs[:, 1]], reduced.link_ids)]
    shared = np.flatnonzero(np.isin(full.link_ids, reduced.link_ids))
    draw_books = np.repeat(held_pairs[:, 0], 10)
    draw_links = rng.choice(shared, size=len(draw_books))
    has = set(map(int, full.pairs[:, 0].astype(np.int64) * full.n_links + full.pairs[:, 1]))
    keep = np.array([int(b) * full.n_links + int(j) not in has for b, j in zip(draw_books, draw_links, strict=True)])
    negatives = np.stack([draw_books[keep], draw_links[keep]], axis=1) if len(draw_books) else np.zeros((0, 2))
    scored = np.concatenate([held_pairs, negatives]).astype(np.int64)
    labels = np.concatenate([np.ones(len(held_pairs)), np.zeros(len(negatives))])
    rows_reduced = np.array([reduced_row[int(full.link_ids[j])] for j in scored[:, 1]])
    # Scored by cosine, which the model's output sigmoid(kernel * cos + bias) ranks alike: training keeps the kernel
    # non-negative (embeddings/keras_model.py); both output layers are printed.
    folded_scores = np.einsum("ij,ij->i", vectors[scored[:, 0]], reduced_model.link_vectors[rows_reduced])
    full_scores = np.einsum("ij,ij->i", full_model.book_vectors[scored[:, 0]], full_model.link_vectors[scored[:, 1]])
    books_scored = np.unique(scored[:, 0])
    tfidf_links = tfidf.link_scores(books_scored)
    tfidf_auc_scores = tfidf_links[np.searchsorted(books_scored, scored[:, 0]), scored[:, 1]]
    for name, values in (
        ("folded in", folded_scores),
        ("full training", full_scores),
        ("TF-IDF of the links", tfidf_auc_scores),
    ):
        embedding[name]["link_auc"] = float(roc_auc_score(labels, values)) if len(held_pairs) else None
    return {
        "source": source,
        "books": full.n_books,
        "hidden": len(hidden_rows),
        "queries": len(queries),
        "without_vector": without,
        "unknown_links": unknown,
        "lost": lost,
        "held_out_pairs": len(held_pairs),
        "train_seconds": (full_seconds, reduced_seconds),
        "fold_ms_median": 1000 * statistics.median(fold_seconds),
        "output_layers": {"reduced": reduced_model.output_layer, "full": full_model.output_layer},
        "tables": {"embedding (cosine)": embedding, "served (Blend.nearest, as `similar`)": served},
        "folded_into_full": diagnostic,
        "folded_without_rare_links": ablation,
        "rare_links_used": rare_used,
        "served_without_rare_links": served_ablation,
    }


def _author_links(full, train_pairs: np.ndarray, row: int, missing: np.ndarray) -> int:
    """How many of `missing` links the hidden book shares with another book by its author."""
    from embeddings.evaluation import group_codes

    codes = group_codes(full.book_authors, full.n_books)
    if codes[row] < 0 or not len(missing):
        return 0
    mates = np.flatnonzero(codes == codes[row])
    mates = mates[mates != row]
    used = train_pairs[np.isin(train_pairs[:, 0], mates) & np.isin(train_pairs[:, 1], missing), 1]
    return int(np.unique(used).size)


def print_quality(result: dict) -> list[tuple[str, bool]]:
    lost = result["lost"]
    print(
        f"\n{result['source']}: {result['books']:,} books, {result['hidden']} hidden ({result['queries']} folded in,"
        f" {result['without_vector']} without a known link), {result['unknown_links']} of their links unknown to the "
        f"reduced version ({lost['shared']} of them used by another book, {lost['author_links']} by a book of the same"
        f" author), {result['held_out_pairs']} held-out pairs scored; training {result['train_seconds'][0]:.0f}"
        f" s full, {result['train_seconds'][1]:.0f} s reduced; fold-in median {result['fold_ms_median']:.1f} ms a book;"
        f" output layers {result['output_layers']}"
    )

    def listed(scores: dict) -> str:
        return ", ".join(f"{k} {'n/a' if v is None else f'{v:.3f}'}" for k, v in scores.items())

    print(
        f"diagnostic, embedding: the same books folded into the full model's links instead: "
        f"{listed(result['folded_into_full'])}"
    )
    print(
        f"ablation, embedding: folded without the reduced version's rare links ({result['rare_links_used']} used "
        f"through their books): {listed(result['folded_without_rare_links'])}"
    )
    print(
        f"ablation, served: folded without the rare links, and no rare TF-IDF columns: "
        f"{listed(result['served_without_rare_links'])}"
    )
    checks = []
    for title, methods in result["tables"].items():
        print(f"\n{title}")
        print(f"{'metric':<20}" + "".join(f"{name:>24}" for name in methods) + "   folded / full")
        short = title.split(" ")[0]
        for metric in ("author_recall@10", "series_recall@10", "genre_precision@10", "link_auc"):
            values = [methods[name].get(metric) for name in methods]
            if all(v is None for v in values):
                continue
            cells = "".join(f"{'n/a' if v is None else f'{v:.3f}':>24}" for v in values)
            folded, full, baseline = values
            if folded is None or full is None:
                print(f"{metric:<20}{cells}   n/a (not computable on {result['source']})")
                continue
            ratio = folded / full if full else float("nan")
            print(f"{metric:<20}{cells}   {ratio:.3f}")
            name = f"{result['source']} {short} {metric}"
            checks.append((f"{name}: folded >= 95% of full training ({ratio:.3f})", ratio >= 0.95))
            if baseline is not None:
                base = list(methods)[2]
                checks.append((f"{name}: folded > {base} ({folded:.3f} vs {baseline:.3f})", folded > baseline))
    return checks


# --- speed -------------------------------------------------------------------------------------------------------


def manage(env: dict, *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


def speed(books: int) -> list[tuple[str, bool]]:
    import psycopg

    name = "recfoldin_bench"
    with psycopg.connect(PG + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    artifacts = Path(tempfile.mkdtemp(prefix="fold-in-bench-"))
    env = {**os.environ, "DATABASE_URL": f"{PG}/{name}", "REDIS_URL": REDIS, "ARTIFACTS_DIR": str(artifacts)}
    env |= {"DEBUG": "0", "ALLOWED_HOSTS": "localhost"}
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "ARTIFACTS_DIR", "DEBUG", "ALLOWED_HOSTS")})
    print("\nspeed: importing the sample, training a quick model (3 epochs), starting a worker ...", flush=True)
    manage(env, "migrate", "--verbosity", "0")
    manage(env, "import_books", str(DATA / "wikipedia"))
    manage(env, "train", "--inline", "--epochs", "3")
    import django

    django.setup()
    from django.db import transaction
    from django.test import Client

    from embeddings import versions
    from embeddings.fold_in import FoldInModel
    from recommender.catalogue.models import Book, BookLink, Link
    from recommender.celery import app, worker_command
    from recommender.fold_ins import queue_books

    app.control.purge()
    log = open(artifacts / "worker.log", "w")  # noqa: SIM115 (closed in the finally below)
    worker = subprocess.Popen(
        worker_command("--pool=solo", "-n", "fold-bench@localhost"), cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 60
        while not app.control.ping(destination=["fold-bench@localhost"], timeout=0.5):
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(f"the worker did not start; see {artifacts / 'worker.log'}")
        rng = np.random.default_rng(0)
        sources = list(Book.objects.linked().values_list("id", flat=True))
        client = Client(HTTP_HOST="localhost")
        latencies, folds = [], []
        folder = versions.version_path(artifacts, versions.active_version_id(artifacts))
        model = FoldInModel.open(folder)
        for i in range(books):
            source = int(rng.choice(sources))
            links = list(BookLink.objects.filter(book_id=source).values_list("link_id", flat=True))[1:]
            started = time.perf_counter()
            with transaction.atomic():  # what the admin's save does: the book, its links, the queueing on commit
                book = Book.objects.create(title=f"Fold-in benchmark book {i}", author="bench")
                fresh = Link.objects.create(name=f"fold-in benchmark link {i}")
                BookLink.objects.bulk_create([BookLink(book=book, link_id=j) for j in [*links, fresh.pk]])
                queue_books([book.pk])
            while client.get(f"/api/books/{book.pk}/similar/").status_code != 200:
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"book {book.pk} got no answer in 30 s; see {artifacts / 'worker.log'}")
                time.sleep(0.01)
            latencies.append(time.perf_counter() - started)
            folds.append(model.fold([*links, fresh.pk], book.pk).seconds)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    median = statistics.median(latencies)
    fold_ms = 1000 * statistics.median(folds)
    dim = model.dim
    print(
        f"save -> first similar answer, {books} books: median {median:.3f} s, p90 "
        f"{np.percentile(latencies, 90):.3f} s, max {max(latencies):.3f} s (serving notices an overlay within 0.5 s)"
    )
    print(f"fold-in alone ({dim} dimensions, {len(model.link_ids):,} links): median {fold_ms:.1f} ms a book")
    return [
        (f"save -> first similar answer, median of {books}: {median:.3f} s <= 1 s", median <= 1.0),
        (f"fold-in alone: {fold_ms:.1f} ms a book <= 20 ms", fold_ms <= 20.0),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="goodbooks models 3 epochs; 30 books in the speed part")
    parser.add_argument("--sources", nargs="+", default=["wikipedia", "goodbooks"])
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    args = parser.parse_args()
    print(f"load average at the start: {os.getloadavg()[0]:.1f}")
    checks: list[tuple[str, bool]] = []
    if not args.skip_speed:
        checks += speed(30 if args.quick else 100)
    if not args.skip_quality:
        for source in args.sources:
            checks += print_quality(quality(source, args.quick))
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    for text, ok in checks:
        print(f"{verdict(ok):<7} {text}")


if __name__ == "__main__":
    main()
