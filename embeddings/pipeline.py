"""One training run: evaluate on a held-out split, then train the served model on all pairs and write the files.

Imports TensorFlow (through embeddings.training) only when run() is called, so importing this module is cheap.
"""

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embeddings import rare_links, similar_table
from embeddings.book_groups import BookGroups
from embeddings.dataset import TrainingData
from embeddings.evaluation import evaluate, holdout_split
from embeddings.fold_in import OUTPUT_LAYER_FILE
from embeddings.hybrid import Blend, save_tfidf
from embeddings.indexing import build_indexes
from embeddings.link_votes import LinkVotes
from embeddings.params import TrainParams
from embeddings.projection import project_into
from embeddings.versions import write_json


def run(
    data: TrainingData,
    params=None,
    out_dir: Path | None = None,
    on_progress: Callable[[dict], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> dict:
    """Train the evaluation model, score it and the baselines, train the served model, index it, write out_dir.

    `params` is an embeddings.params.TrainParams (default: its defaults). Progress dicts get a `phase` key:
    "evaluation" while the split model trains, "metrics" while scoring, "final" for the served model, "indexing"
    while the Annoy indexes are built and tuned, every book's `similar` answer is tabled and every book's TF-IDF
    neighbours are ranked for `books_for_link`, "projection" while UMAP draws the map (their figures go into
    metrics.json, written once, last).
    Raises training.TrainingCancelled when should_cancel() turns true; out_dir may then hold partial files.
    """
    from embeddings.training import train  # TensorFlow only in the process that trains

    # Epochs from the whole catalogue's pairs, so the evaluation model trains as long as the served one.
    params = (params or TrainParams()).resolved(len(data.pairs))
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

    np.save(out_dir / "book_vectors.npy", final.book_vectors.astype(np.float32))
    np.save(out_dir / "link_vectors.npy", final.link_vectors.astype(np.float32))
    np.save(out_dir / "book_ids.npy", data.book_ids.astype(np.int64))
    tfidf = save_tfidf(out_dir, data.pairs, data.n_books, data.n_links)  # the served blend's explicit signal
    BookGroups.from_labels(data.book_authors, data.book_series, data.n_books).save(out_dir)  # its series and authors
    np.save(out_dir / "link_ids.npy", data.link_ids.astype(np.int64))
    write_json(out_dir / OUTPUT_LAYER_FILE, final.output_layer)  # fold-in scores new books with it
    if data.rare_pairs is not None:
        rare_links.save(out_dir, data.rare_pairs)  # and uses the links dropped as rare through their books
    write_json(out_dir / "params.json", {**params.to_dict(), **data.summary()})
    write_json(out_dir / "history.json", {"evaluation": evaluation.history, "final": final.history})
    if on_progress is not None:
        on_progress({"phase": "indexing"})
    index_started = time.perf_counter()
    metrics["index"] = build_indexes(out_dir, seed=params.seed)
    table_started = time.perf_counter()  # part of "indexing": the table is an index of whole answers
    similar_table.write(out_dir, Blend.open(out_dir, np.load(out_dir / "book_vectors.npy")))
    metrics["index"]["similar_table_seconds"] = time.perf_counter() - table_started
    votes_started = time.perf_counter()  # the TF-IDF neighbours of every book, which books_for_link adds up
    LinkVotes.build(tfidf).save(out_dir)
    metrics["index"]["link_votes_seconds"] = time.perf_counter() - votes_started
    index_seconds = time.perf_counter() - index_started
    if should_cancel is not None and should_cancel():
        from embeddings.training import TrainingCancelled

        raise TrainingCancelled("cancelled before the map")
    projection_started = time.perf_counter()
    if params.draw_map:  # without one the version has no "map" entry, like versions from before maps
        metrics["map"] = project_into(out_dir, params.seed, on_progress)
    metrics["timing"] = {
        "evaluation_train_seconds": evaluation_seconds,
        "metrics_seconds": metrics_seconds,
        "final_train_seconds": final.seconds,
        "index_seconds": index_seconds,
        "projection_seconds": time.perf_counter() - projection_started if params.draw_map else None,
        "total_seconds": time.perf_counter() - started,
    }
    write_json(out_dir / "metrics.json", metrics)
    return metrics
