"""Training: the Keras architecture, sparse step, determinism, progress/cancel, cluster separation, pipeline."""

import numpy as np
import pytest

from embeddings.keras_model import build_model
from embeddings.params import TrainParams
from embeddings.training import SparseAdamStep, TrainingCancelled, train
from tests.helpers import clustered_data

pytestmark = pytest.mark.slow  # trains models (TensorFlow)

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


@pytest.mark.parametrize("seed", [4, 5])  # seeds whose output weight was drawn negative (it then stayed negative)
def test_a_book_is_near_its_own_links_whatever_the_seed(seed):
    data = clustered_data(n_per=40, links_per=20)
    # 10 epochs: at 3 the margin was 0.09-0.13 over seeds 1-8 (seed 5 failed CI at 0.099); at 10 it is 0.26-0.36
    result = train(data, TrainParams(epochs=10, dim=32, seed=seed))
    assert result.output_layer["kernel"] > 0
    cosines = result.book_vectors @ result.link_vectors.T
    has = np.zeros_like(cosines, dtype=bool)
    has[data.pairs[:, 0], data.pairs[:, 1]] = True
    assert cosines[has].mean() > cosines[~has].mean() + 0.1  # so "books for a link" finds the books that have it


def test_progress_and_cancel():
    data = clustered_data()
    seen: list[dict] = []
    train(data, TrainParams(epochs=2, dim=4, batch_positives=64), on_progress=seen.append)
    epochs = [p["epoch"] for p in seen]
    assert epochs == sorted(epochs) and set(epochs) == {1, 2}  # both epochs reported, in order
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
    assert {"evaluation", "final", "indexing"} <= phases
    for name in ("book_vectors.npy", "link_vectors.npy", "book_ids.npy", "link_ids.npy"):
        assert (tmp_path / name).is_file()
    assert np.load(tmp_path / "book_vectors.npy").dtype == np.float32
    assert np.array_equal(np.load(tmp_path / "book_ids.npy"), data.book_ids)
    stored = read_json(tmp_path / "metrics.json")
    assert set(stored) >= {"embedding", "tfidf", "popularity", "split", "index"}
    assert stored["embedding"]["link_auc"] == pytest.approx(metrics["embedding"]["link_auc"])
    assert read_json(tmp_path / "params.json")["n_books"] == data.n_books


def test_epoch_tensors_dedup_and_padding():
    from embeddings.batches import Batch
    from embeddings.training import dedup_rows, epoch_tensors

    rng = np.random.default_rng(0)
    ids = rng.integers(0, 9, size=4 * 6)
    rows, pos, counts = dedup_rows(ids, 4, 6, 9)
    for s in range(4):
        distinct = np.unique(ids[s * 6 : (s + 1) * 6])
        assert counts[s] == len(distinct)
        assert np.array_equal(rows[s, : counts[s]], distinct)  # sorted distinct rows ...
        assert (rows[s, counts[s] :] == distinct[-1]).all()  # ... padded with the last
        assert np.array_equal(rows[s][pos[s]], ids[s * 6 : (s + 1) * 6])
    # A short last batch is padded with its first example and masked by its count.
    batch = Batch(np.arange(10, dtype=np.int32), np.arange(10, dtype=np.int32) % 3, np.ones(10, dtype=np.float32))
    tensors = epoch_tensors(batch, [slice(0, 4), slice(4, 8), slice(8, 10)], 10, 3)
    assert tensors.counts.numpy().tolist() == [4, 4, 2]
    last_books = tensors.book_rows.numpy()[2][tensors.book_pos.numpy()[2]]
    assert last_books.tolist() == [8, 9, 8, 8]
    assert tensors.labels.numpy()[2].tolist() == [1, 1, 0, 0]


def test_compiled_run_equals_single_steps():
    from embeddings.batches import BatchSampler
    from embeddings.training import epoch_tensors

    data = clustered_data()
    sampler = BatchSampler(data.pairs, data.n_books, data.n_links, n_positive=48, seed=2)
    arrays, slices = sampler.epoch_arrays()
    assert slices[-1].stop - slices[-1].start < slices[0].stop - slices[0].start  # a short last batch
    weights = []
    for chunked in (True, False):
        import keras

        keras.utils.set_random_seed(3)
        model = build_model(data.n_books, data.n_links, dim=6)
        stepper = SparseAdamStep(model, "classification", learning_rate=0.01)
        losses = []
        if chunked:
            tensors = epoch_tensors(arrays, slices, data.n_books, data.n_links)
            losses.append(stepper.run(tensors, 0, 2)[0])
            losses.append(stepper.run(tensors, 2, len(slices))[0])
        else:
            for part in slices:
                losses.append(stepper.step(arrays.books[part], arrays.links[part], arrays.labels[part])[0])
        weights.append([w.copy() for w in model.get_weights()] + [sum(losses)])
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_batches", [3, 1500])
def test_fast_batch_shuffle_and_membership_equal_the_plain_numpy(n_batches):
    from embeddings.batches import PairSet, shuffle_within_batches

    rng = np.random.default_rng(1)
    batch_of = np.sort(rng.integers(0, n_batches, size=20_000))
    batch_of[-1] = n_batches - 1
    keys = rng.random(len(batch_of))
    assert np.array_equal(shuffle_within_batches(keys, batch_of), np.lexsort((keys, batch_of)))
    keys[::7] = 0.5  # ties: the stable order of lexsort
    assert np.array_equal(shuffle_within_batches(keys, batch_of), np.lexsort((keys, batch_of)))
    pairs = np.stack([rng.integers(0, 300, 5000), rng.integers(0, 200, 5000)], axis=1)
    known = PairSet(pairs, 200)
    books, links = rng.integers(0, 300, 10_000), rng.integers(0, 200, 10_000)
    keys = books * 200 + links
    expected = np.isin(keys, known.keys)
    assert np.array_equal(known.contains(books, links), expected)  # the sorted-query path (>= 4096 queries)
    assert np.array_equal(known.contains(books[:100], links[:100]), expected[:100])


def test_first_adam_step_moves_each_touched_row_by_the_learning_rate():
    # Adam's first step is lr * g / (|g| + eps') per element: about lr for every touched row, however many times
    # the batch repeats it and however the batch is padded (a duplicate-index update applied twice would show).
    model = build_model(50, 60, dim=4)
    stepper = SparseAdamStep(model, "classification", learning_rate=0.01)
    books = np.array([1, 2, 2, 7, 7, 7, 9], dtype=np.int32)
    links = np.array([3, 3, 9, 10, 3, 4, 4], dtype=np.int32)
    before = [w.copy() for w in model.get_weights()[:2]]
    stepper.step(books, links, np.array([1, 0, 1, 0, 1, 0, 1], dtype=np.float32))
    after = model.get_weights()[:2]
    for old, new, ids in zip(before, after, (books, links), strict=True):
        np.testing.assert_allclose(np.abs(new - old)[np.unique(ids)], 0.01, rtol=1e-2)
