"""Quality on the Wikipedia sample: the original project's settings against this project's defaults.

    .venv/bin/python benchmarks/train_quality.py                      # original vs defaults, seeds 42 and 0
    .venv/bin/python benchmarks/train_quality.py --seeds 42           # one seed, about half the time
    .venv/bin/python benchmarks/train_quality.py --min-counts 2 3 4   # also sweep the link vocabulary
    .venv/bin/python benchmarks/train_quality.py --set epochs=30 --set dim=200   # try other settings

Each configuration trains the evaluation model on the held-out split (as embeddings.pipeline does) for each seed
(the seed of both the split and the training) and prints the mean over seeds of the embedding next to the TF-IDF
and popularity baselines computed on the same vocabulary and split: one table, configurations side by side.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from embeddings.dataset import build_training_data, frames_from_records
from embeddings.evaluation import METHODS, METRIC_NAMES, evaluate, format_metrics_table, holdout_split

ORIGINAL = {
    "epochs": 15,
    "learning_rate": 0.001,
    "lr_schedule": "constant",
    "min_link_count": 4,
    "dim": 50,
    "batch_positives": 1024,
    "negative_ratio": 2.0,
    "negative_sampling": "uniform",
    "positive_sampling": "uniform",
    "mode": "classification",
}
SHORT = {"original settings": "orig", "chosen settings": "chosen"}


def load_frames(directory: Path):
    from recommender.catalogue.sources import read_wikipedia

    records = [r for f in sorted(directory.glob("*.ndjson")) for r in read_wikipedia(f)]
    return frames_from_records(records)


def run_config(frames, values: dict, seed: int) -> tuple[dict, float]:
    from embeddings.training import TrainParams, train

    params = TrainParams.from_dict({**values, "seed": seed})
    data = build_training_data(*frames, params.min_link_count)
    split = holdout_split(data.pairs, data.n_books, seed=seed)
    bar = tqdm(desc=json.dumps(values, sort_keys=True)[:80], unit="step", leave=False)

    def on_progress(info: dict) -> None:
        bar.total, bar.n = info["total_steps"], info["step"]
        bar.refresh()

    start = time.perf_counter()
    result = train(data.with_pairs(split.train_pairs), params, on_progress=on_progress)
    bar.close()
    metrics = evaluate(data, split, result.book_vectors, result.link_vectors, seed=seed)
    metrics["data"] = data.summary()
    return metrics, time.perf_counter() - start


def parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def mean_metrics(runs: list[dict]) -> dict:
    """Mean over seeds of each method's metrics."""
    methods = [k for k in runs[0] if k in METHODS]
    return {m: {name: float(np.mean([r[m][name] for r in runs])) for name in METRIC_NAMES} for m in methods}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("/work/shared/data/wikipedia"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 0])
    parser.add_argument("--min-counts", type=int, nargs="*", default=[], help="also run the defaults with these")
    parser.add_argument("--set", action="append", default=[], help="override a default: name=value")
    parser.add_argument("--skip-original", action="store_true")
    args = parser.parse_args()

    from embeddings.training import TrainParams

    frames = load_frames(args.data)
    chosen = {k: v for k, v in TrainParams().to_dict().items() if k != "seed"}
    for item in args.set:
        name, _, value = item.partition("=")
        chosen[name] = parse_value(value)
    configs = [] if args.skip_original else [("original settings", ORIGINAL)]
    configs.append(("chosen settings", chosen))
    configs += [(f"chosen, min_link_count={m}", {**chosen, "min_link_count": m}) for m in args.min_counts]
    table: dict = {}
    for label, values in configs:
        runs, seconds = [], []
        for seed in args.seeds:
            metrics, took = run_config(frames, values, seed)
            runs.append(metrics)
            seconds.append(took)
        print(f"\n== {label}: {json.dumps(values, sort_keys=True)}")
        print(f"   {runs[0]['data']}, {runs[0]['split']} (seed {args.seeds[0]})")
        print(f"   training + evaluation {np.mean(seconds):.1f} s a seed; seeds {args.seeds}", flush=True)
        short = SHORT.get(label, label.replace("chosen, min_link_count=", "min"))
        for method, values_ in mean_metrics(runs).items():
            table[f"{short}:{method}"] = values_
    print(f"\n== mean over seeds {args.seeds}")
    print(format_metrics_table(table))


if __name__ == "__main__":
    main()
