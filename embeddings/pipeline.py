"""One training run: evaluate on a held-out split, then train the served model on all pairs and write the files.

Imports TensorFlow (through embeddings.training) only when run() is called, so importing this module is cheap.
"""

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embeddings.dataset import TrainingData
from embeddings.evaluation import evaluate, holdout_split
from embeddings.versions import write_json


def run(
    data: TrainingData,
    params=None,
    out_dir: Path | None = None,
    on_progress: Callable[[dict], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> dict:
    """Train the evaluation model, score it and the baselines, train the served model, write out_dir.

    `params` is an embeddings.training.TrainParams (default: its defaults). Progress dicts get a `phase` key:
    "evaluation" while the split model trains, "metrics" while scoring, "final" for the served model.
    Raises training.TrainingCancelled when should_cancel() turns true; out_dir may then hold partial files.
    """
    from embeddings.training import TrainParams, train  # TensorFlow only in the process that trains

    params = params or TrainParams()
    if out_dir is None:
        raise ValueError("out_dir is required")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    def phase_progress(phase: str) -> Callable[[dict], None] | None:
        if on_progress is None:
            return None
        return lambda info: on_progress({**info, "phase": phase})

    started = time.perf_counter()
    split = holdout_split(data.pairs, data.n_books, seed=params.seed)
    evaluation = train(data.with_pairs(split.train_pairs), params, phase_progress("evaluation"), should_cancel)
    evaluation_seconds = time.perf_counter() - started

    if on_progress is not None:
        on_progress({"phase": "metrics"})
    metrics_started = time.perf_counter()
    metrics = evaluate(data, split, evaluation.book_vectors, evaluation.link_vectors, seed=params.seed)
    metrics_seconds = time.perf_counter() - metrics_started

    if should_cancel is not None and should_cancel():
        from embeddings.training import TrainingCancelled

        raise TrainingCancelled("cancelled before the final model")
    final = train(data, params, phase_progress("final"), should_cancel)

    metrics["timing"] = {
        "evaluation_train_seconds": evaluation_seconds,
        "metrics_seconds": metrics_seconds,
        "final_train_seconds": final.seconds,
        "total_seconds": time.perf_counter() - started,
    }
    np.save(out_dir / "book_vectors.npy", final.book_vectors.astype(np.float32))
    np.save(out_dir / "link_vectors.npy", final.link_vectors.astype(np.float32))
    np.save(out_dir / "book_ids.npy", data.book_ids.astype(np.int64))
    np.save(out_dir / "link_ids.npy", data.link_ids.astype(np.int64))
    write_json(out_dir / "params.json", {**params.to_dict(), **data.summary()})
    write_json(out_dir / "history.json", {"evaluation": evaluation.history, "final": final.history})
    write_json(out_dir / "metrics.json", metrics)
    return metrics
