"""Quality of what is served against the baselines, on both real sources and several seeds.

    .venv/bin/python benchmarks/train_quality.py                          # wikipedia + goodbooks, seeds 1 2 3
    .venv/bin/python benchmarks/train_quality.py --sources wikipedia --seeds 1   # a quick look
    .venv/bin/python benchmarks/train_quality.py --set epochs=20          # try other settings

For each source and seed (the seed of both the split and the training) the evaluation model is trained on the
held-out split with the default TrainParams, exactly as embeddings.pipeline does, and scored by
embeddings.evaluate: "served" (books by the blend of embeddings/hybrid.py, through the same Blend.nearest that
serves `similar`; links by the score of embeddings/link_votes.py that `books_for_link` serves), the embedding
alone, TF-IDF and popularity, on the same vocabulary, split and queries. Series come from
recommender/catalogue/series.py, as the importer stores them. Printed: mean and spread (population std) over seeds
of every metric, an ablation of the served ranking's parts on the same vectors, and MEETS / MISSES per target of
issue 9.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")
os.environ.setdefault("SECRET_KEY", "benchmark-only")

from embeddings.dataset import build_training_data, frames_from_records
from embeddings.evaluation import METRIC_NAMES, evaluate, evaluate_scorers, holdout_split

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
METHODS = ("served", "embedding", "tfidf", "popularity")
# (metric, sources it applies to): served must be >= TF-IDF on every seed and > on the mean.
BOOK_TARGETS = {
    "genre_precision@10": ("wikipedia",),
    "author_recall@10": ("wikipedia", "goodbooks"),
    "series_recall@10": ("wikipedia", "goodbooks"),
}
AUC_TARGETS = {"wikipedia": 0.90, "goodbooks": 0.95}


def load_records(source: str) -> list:
    import django

    django.setup()
    from recommender.catalogue import sources
    from recommender.catalogue.series import assign_series

    if source == "wikipedia":
        records = [r for f in sorted((DATA / "wikipedia").glob("*.ndjson")) for r in sources.read_wikipedia(f)]
    else:
        records = list(sources.read_goodbooks(DATA / "goodbooks"))
    records = [r for r in records if hasattr(r, "links")]
    series = assign_series((i, r.title, r.infobox) for i, r in enumerate(records))  # as the importer does
    for i, record in enumerate(records):
        record.fields = {**(record.fields or {}), "series": series[i]}
    return records


def ablation_scorers(data, split, book_vectors, link_vectors) -> dict:
    """The served ranking's parts on the same vectors: the blend's TF-IDF weight, TF-IDF only re-ranking the
    embedding's candidates, and the explicit series and author terms (embeddings/book_groups.py) at other weights;
    links scored by the cosine alone (every column but "served" and those named "link votes") and by the served
    link score (embeddings/link_votes.py) with other vote weights."""
    from embeddings.book_groups import BookGroups
    from embeddings.hybrid import (
        AUTHOR_WEIGHT,
        CANDIDATES,
        SERIES_WEIGHT,
        TFIDF_WEIGHT,
        Blend,
        ServedScorer,
        tfidf_matrix,
    )
    from embeddings.link_votes import LinkVotes

    tfidf = tfidf_matrix(split.train_pairs, data.n_books, data.n_links)
    groups = BookGroups.from_labels(data.book_authors, data.book_series, data.n_books)
    out = {}
    for weight in (0.25, TFIDF_WEIGHT, 0.75):
        out[f"blend w={weight}"] = ServedScorer(Blend(book_vectors, tfidf, tfidf_weight=weight), link_vectors)

    class EmbeddingCandidatesOnly(Blend):  # TF-IDF only re-ranks the embedding's candidates
        def tfidf_top(self, row: int) -> np.ndarray:
            return np.zeros(0, dtype=np.int64)

        def nearest(self, row: int, k: int, embedding_rows=None):
            query = np.asarray(self.vectors[row], dtype=np.float32)
            want = min(max(self.candidates, k), len(self.vectors) - 1)
            emb_rows = np.argpartition(-(self.vectors @ query), want)[: want + 1]
            blend = Blend(self.vectors, self.tfidf, self.candidates, self.weight)
            tf = blend.tfidf_scores(row)
            rows = emb_rows[emb_rows != row]
            e, t = self.vectors[rows] @ query, tf[rows]
            score = (1 - self.weight) * e / max(e.max(), 1e-9) + self.weight * t / max(t.max(), 1e-9)
            return [(int(rows[i]), float(score[i])) for i in np.lexsort((rows, -score))[:k]]

    out[f"re-rank {CANDIDATES} embedding candidates"] = ServedScorer(
        EmbeddingCandidatesOnly(book_vectors, tfidf), link_vectors
    )
    for series_weight, author_weight in (
        (SERIES_WEIGHT, 0.0),
        (0.0, AUTHOR_WEIGHT),
        (SERIES_WEIGHT, 0.5),
    ):
        blend = Blend(book_vectors, tfidf, groups=groups, series_weight=series_weight, author_weight=author_weight)
        out[f"blend + series {series_weight} + author {author_weight}"] = ServedScorer(blend, link_vectors)
    votes = LinkVotes.build(tfidf)  # the served link score's vote term at other weights (served: VOTE_WEIGHT)
    for weight in (0.5, 2.0):
        out[f"served, link votes x{weight}"] = ServedScorer(
            Blend(book_vectors, tfidf, groups=groups), link_vectors, votes.reweighted(weight)
        )
    return out


def run_seed(records: list, values: dict, seed: int) -> tuple[dict, dict, float]:
    from embeddings.params import TrainParams
    from embeddings.training import train

    data = build_training_data(*frames_from_records(records))
    params = TrainParams.from_dict({**values, "seed": seed}).resolved(data.n_pairs)
    data = build_training_data(*frames_from_records(records), params.min_link_count)
    split = holdout_split(data.pairs, data.n_books, seed=seed)
    started = time.perf_counter()
    result = train(data.with_pairs(split.train_pairs), params)
    seconds = time.perf_counter() - started
    metrics = evaluate(data, split, result.book_vectors, result.link_vectors, seed=seed)
    metrics["data"] = {**data.summary(), "epochs": params.epochs}
    ablation = evaluate_scorers(
        data, split, ablation_scorers(data, split, result.book_vectors, result.link_vectors), seed=seed
    )
    return metrics, ablation, seconds


def fmt(values: list) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def print_table(title: str, runs: list[dict], columns: list[str]) -> None:
    print(f"\n{title}")
    print(f"| metric | {' | '.join(columns)} |")
    print("| --- |" + " ---: |" * len(columns))
    for name in METRIC_NAMES:
        cells = [fmt([r[c].get(name) for r in runs]) for c in columns]
        print(f"| {name} | {' | '.join(cells)} |")


def check_targets(source: str, runs: list[dict]) -> list[tuple[str, bool]]:
    lines = []
    for metric, applies in BOOK_TARGETS.items():
        if source not in applies:
            continue
        served = [r["served"][metric] for r in runs]
        tfidf = [r["tfidf"][metric] for r in runs]
        if any(v is None for v in served + tfidf):
            lines.append((f"{source} {metric}: not computable on this source", False))
            continue
        each = all(s >= t for s, t in zip(served, tfidf, strict=True))
        mean = np.mean(served) > np.mean(tfidf)
        per_seed = ", ".join(f"{s:.3f}/{t:.3f}" for s, t in zip(served, tfidf, strict=True))
        lines.append(
            (
                f"{source} {metric}: served >= TF-IDF on every seed ({per_seed}) and > on the mean "
                f"({np.mean(served):.3f} vs {np.mean(tfidf):.3f}, {np.mean(served) / np.mean(tfidf):.3f}x)",
                each and mean,
            )
        )
    aucs = [r["served"]["link_auc"] for r in runs]  # what books_for_link ranks by
    floor = AUC_TARGETS[source]
    lines.append(
        (f"{source} link_auc >= {floor} on every seed ({', '.join(f'{a:.3f}' for a in aucs)})", min(aucs) >= floor)
    )
    return lines


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", nargs="+", default=["wikipedia", "goodbooks"], choices=["wikipedia", "goodbooks"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--set", action="append", default=[], help="override a default: name=value")
    args = parser.parse_args()
    values = {}
    for item in args.set:
        name, _, value = item.partition("=")
        values[name] = parse_value(value)

    verdicts: list[tuple[str, bool]] = []
    for source in args.sources:
        records = load_records(source)
        runs, ablations, seconds = [], [], []
        for seed in args.seeds:
            metrics, ablation, took = run_seed(records, values, seed)
            runs.append(metrics)
            ablations.append(
                {**ablation, "served": metrics["served"], "embedding": metrics["embedding"], "tfidf": metrics["tfidf"]}
            )
            seconds.append(took)
            print(f"{source} seed {seed}: {took:.1f} s training; {metrics['data']}", flush=True)
        print_table(f"== {source}, mean ± std over seeds {args.seeds}", runs, list(METHODS))
        columns = ["embedding", "tfidf", *[c for c in ablations[0] if c not in ("served", "embedding", "tfidf")]]
        print_table(f"== {source} ablation (same vectors and split)", ablations, [*columns, "served"])
        verdicts += check_targets(source, runs)

    print("\n== targets (issue 9)")
    for text, met in verdicts:
        print(f"{'MEETS ' if met else 'MISSES'}  {text}")


if __name__ == "__main__":
    main()
