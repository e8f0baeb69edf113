"""Training: the Keras architecture, sparse step, determinism, progress/cancel, cluster separation, pipeline."""

import numpy as np
import pytest

from embeddings.model import build_model
from embeddings.training import SparseAdamStep, TrainingCancelled, TrainParams, train
from tests.test_evaluation import clustered_data

FAST = TrainParams(epochs=30, dim=8, batch_positives=64, learning_rate=0.01, seed=5)


def test_model_architecture():
    model = build_model(30, 40, dim=6)
    assert [i.name for i in model.inputs] == ["book", "link"]
    assert model.get_layer("book_embedding").get_weights()[0].shape == (30, 6)
    assert model.get_layer("link_embedding").get_weights()[0].shape == (40, 6)
    assert model.get_layer("dot_product").normalize is True
    assert model.get_layer("output").activation.__name__ == "sigmoid"
    assert model.loss == "binary_crossentropy"
    regression = build_model(30, 40, dim=6, mode="regression")
    assert regression.loss == "mse" and regression.output.shape[-1] == 1
    with pytest.raises(ValueError):
        build_model(3, 3, mode="other")


def test_sparse_step_matches_model_and_leaves_untouched_rows():
    model = build_model(50, 60, dim=4)
    stepper = SparseAdamStep(model, "classification", learning_rate=0.05)
    books = np.array([1, 2, 2, 7], dtype=np.int32)
    links = np.array([3, 3, 9, 10], dtype=np.int32)
    labels = np.array([1, 0, 1, 0], dtype=np.float32)
    # The step's forward pass is the model's.
    book_rows = model.get_layer("book_embedding").get_weights()[0][books]
    link_rows = model.get_layer("link_embedding").get_weights()[0][links]
    ours = stepper.forward(book_rows, link_rows).numpy()
    keras_out = model.predict({"book": books[:, None], "link": links[:, None]}, verbose=0)[:, 0]
    np.testing.assert_allclose(ours, keras_out, rtol=1e-5, atol=1e-6)

    before_b = model.get_layer("book_embedding").get_weights()[0].copy()
    before_l = model.get_layer("link_embedding").get_weights()[0].copy()
    for _ in range(3):
        stepper.step(books, links, labels)
    after_b = model.get_layer("book_embedding").get_weights()[0]
    after_l = model.get_layer("link_embedding").get_weights()[0]
    touched_b, touched_l = np.unique(books), np.unique(links)
    untouched_b = np.setdiff1d(np.arange(50), touched_b)
    untouched_l = np.setdiff1d(np.arange(60), touched_l)
    assert np.array_equal(after_b[untouched_b], before_b[untouched_b])
    assert np.array_equal(after_l[untouched_l], before_l[untouched_l])
    assert not np.allclose(after_b[touched_b], before_b[touched_b])
    assert not np.allclose(after_l[touched_l], before_l[touched_l])


def test_same_seed_same_vectors():
    data = clustered_data()
    params = TrainParams(epochs=3, dim=8, batch_positives=32, seed=11)
    a, b = train(data, params), train(data, params)
    assert np.array_equal(a.book_vectors, b.book_vectors)
    assert np.array_equal(a.link_vectors, b.link_vectors)
    c = train(data, TrainParams(epochs=3, dim=8, batch_positives=32, seed=12))
    assert not np.array_equal(a.book_vectors, c.book_vectors)
    assert a.book_vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a.book_vectors, axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("mode", ["classification", "regression"])
def test_two_clusters_are_separated(mode):
    data = clustered_data()
    result = train(data, TrainParams(**{**FAST.to_dict(), "mode": mode}))
    sims = result.book_vectors @ result.book_vectors.T
    group = np.arange(data.n_books) >= 20
    same = sims[group[:, None] == group[None, :]].mean()
    other = sims[group[:, None] != group[None, :]].mean()
    assert same > other + 0.5, (same, other)
    assert result.history[-1]["loss"] < result.history[0]["loss"]
    if mode == "regression":
        assert result.history[-1]["accuracy"] is None


def test_progress_and_cancel():
    data = clustered_data()
    seen: list[dict] = []
    train(data, TrainParams(epochs=2, dim=4, batch_positives=64), on_progress=seen.append)
    assert [p["epoch"] for p in seen if p["step"] % 6 == 0][-2:] == [1, 2] or len(seen) >= 2
    last = seen[-1]
    assert last["step"] == last["total_steps"] and last["epochs"] == 2
    for key in ("loss", "accuracy", "examples_per_second", "eta_seconds"):
        assert key in last
    calls = iter(range(100))
    with pytest.raises(TrainingCancelled):
        train(data, TrainParams(epochs=5, dim=4, batch_positives=64), should_cancel=lambda: next(calls) >= 3)


def test_pipeline_writes_version_files(tmp_path):
    from embeddings.pipeline import run
    from embeddings.versions import read_json

    data = clustered_data()
    phases: set[str] = set()
    params = TrainParams(epochs=2, dim=4, batch_positives=64)
    metrics = run(data, params, tmp_path, on_progress=lambda p: phases.add(p["phase"]))
    assert {"evaluation", "final"} <= phases
    for name in ("book_vectors.npy", "link_vectors.npy", "book_ids.npy", "link_ids.npy"):
        assert (tmp_path / name).is_file()
    assert np.load(tmp_path / "book_vectors.npy").dtype == np.float32
    assert np.array_equal(np.load(tmp_path / "book_ids.npy"), data.book_ids)
    stored = read_json(tmp_path / "metrics.json")
    assert set(stored) >= {"embedding", "tfidf", "popularity", "split"}
    assert stored["embedding"]["link_auc"] == pytest.approx(metrics["embedding"]["link_auc"])
    assert read_json(tmp_path / "params.json")["n_books"] == data.n_books
