"""Training loop: the Keras model of embeddings/keras_model.py, stepped by a sparse (lazy) Adam.

Keras' fit + Adam updates every row of both embedding tables at every step, so a step costs O(catalogue).
Here a tf.function step gathers only the rows a batch touches, runs the model's own layers on them
(Dot(normalize=True) -> Reshape -> Dense), and applies Adam to those rows alone (moments and weights scattered
back), so a step costs O(batch). The Dense layer's two weights get a plain Adam step.
"""

import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from embeddings.batches import Batch, BatchSampler
from embeddings.dataset import TrainingData
from embeddings.params import TrainParams
from embeddings.search import normalise_rows

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

from embeddings.keras_model import build_model

PROGRESS_INTERVAL = 0.5  # seconds between on_progress calls inside an epoch
CHUNK_SECONDS = 0.2  # training steps per compiled call: about this long (cancel and progress checked between)


class TrainingCancelled(Exception):
    """should_cancel() said stop; nothing was written."""


@dataclass
class TrainResult:
    book_vectors: np.ndarray  # float32 (n_books, dim), L2-normalised rows
    link_vectors: np.ndarray  # float32 (n_links, dim), L2-normalised rows
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    # The Dense(1, sigmoid) after the cosine: {"mode", "kernel", "bias"} (no weights in regression mode). Fold-in
    # (embeddings/fold_in.py) optimises a new book against the same output layer.
    output_layer: dict = field(default_factory=dict)


class EpochTensors(NamedTuple):
    """One epoch of batches, stacked [steps, batch] and de-duplicated per batch, ready for SparseAdamStep.run.

    Each batch's distinct book (link) rows are sorted and padded to the batch length by repeating the last one;
    book_pos[s, i] is the position of example i's book in book_rows[s]. A short last batch is padded with copies
    of its first example, masked out by counts[s] (the real number of examples).
    """

    book_rows: tf.Tensor  # int32 [steps, batch]
    book_pos: tf.Tensor  # int32 [steps, batch]
    n_book_rows: tf.Tensor  # int32 [steps]
    link_rows: tf.Tensor
    link_pos: tf.Tensor
    n_link_rows: tf.Tensor
    labels: tf.Tensor  # float32 [steps, batch]
    counts: tf.Tensor  # int32 [steps]


def dedup_rows(ids: np.ndarray, steps: int, width: int, n_ids: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per batch (row of ids.reshape(steps, width)): sorted distinct ids padded with the last, positions, counts.

    One np.unique over (batch, id) keys for the whole epoch instead of a tf.unique per step.
    """
    keys = np.repeat(np.arange(steps, dtype=np.int64) * n_ids, width) + ids
    distinct, inverse = np.unique(keys, return_inverse=True)
    first = np.searchsorted(distinct, np.arange(steps, dtype=np.int64) * n_ids)
    counts = np.diff(np.append(first, len(distinct)))
    positions = (inverse.reshape(steps, width) - first[:, None]).astype(np.int32)
    take = np.minimum(np.arange(width)[None, :], (counts - 1)[:, None]) + first[:, None]
    rows = (distinct[take] - (np.arange(steps, dtype=np.int64) * n_ids)[:, None]).astype(np.int32)
    return rows, positions, counts.astype(np.int32)


def epoch_tensors(arrays: Batch, slices: list[slice], n_books: int, n_links: int) -> EpochTensors:
    """The epoch of BatchSampler.epoch_arrays as EpochTensors (numpy work; runs in a background thread)."""
    steps, width = len(slices), max(part.stop - part.start for part in slices)
    counts = np.array([part.stop - part.start for part in slices], dtype=np.int32)
    books = np.empty((steps, width), dtype=np.int64)
    links = np.empty((steps, width), dtype=np.int64)
    labels = np.zeros((steps, width), dtype=np.float32)
    full = int(np.searchsorted(-counts, -width, side="right"))  # batches before the short one(s) are full
    n_full = full * width
    books[:full] = arrays.books[:n_full].reshape(full, width)
    links[:full] = arrays.links[:n_full].reshape(full, width)
    labels[:full] = arrays.labels[:n_full].reshape(full, width)
    for s in range(full, steps):
        part = slices[s]
        books[s], links[s] = arrays.books[part.start], arrays.links[part.start]  # padding: rows already present
        books[s, : counts[s]] = arrays.books[part]
        links[s, : counts[s]] = arrays.links[part]
        labels[s, : counts[s]] = arrays.labels[part]
    book_rows, book_pos, n_book_rows = dedup_rows(books.ravel(), steps, width, n_books)
    link_rows, link_pos, n_link_rows = dedup_rows(links.ravel(), steps, width, n_links)
    return EpochTensors(
        *(tf.constant(a) for a in (book_rows, book_pos, n_book_rows, link_rows, link_pos, n_link_rows, labels, counts))
    )


class SparseAdamStep:
    """Compiled training steps over the model's variables; a step touches only the embedding rows in its batch.

    run(epoch, start, stop) trains batches start..stop-1 of an EpochTensors in one call: an XLA-compiled while
    loop, so there is no Python or op-dispatch cost per step, and a step's gathers, model layers, gradients and
    Adam updates are fused. step(books, links, labels) trains one batch the same way.
    """

    def __init__(
        self,
        model: keras.Model,
        mode: str,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,  # Keras' Adam defaults
        jit_compile: bool = True,
    ) -> None:
        self.mode = mode
        self.tables = [model.get_layer(name).embeddings.value for name in ("book_embedding", "link_embedding")]
        self.dense = model.get_layer("output") if mode == "classification" else None
        self.dense_vars = [w.value for w in self.dense.trainable_weights] if self.dense else []
        # Adam moments of the tables, m and v side by side ([m | v] per row: one gather and one scatter a step);
        # untouched rows keep theirs (lazy Adam). The Dense weights' m and v are separate.
        self.moments = [
            tf.Variable(tf.zeros([t.shape[0], 2 * t.shape[1]], t.dtype), trainable=False) for t in self.tables
        ]
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.dense_vars]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.dense_vars]
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        # lr is a variable so the training loop can follow TrainParams.lr_schedule (assign, no retrace).
        self.lr = tf.Variable(learning_rate, dtype=tf.float32, trainable=False)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.n_books, self.n_links = (int(t.shape[0]) for t in self.tables)
        matrix = tf.TensorSpec([None, None], tf.int32)
        vector = tf.TensorSpec([None], tf.int32)
        scalar = tf.TensorSpec([], tf.int32)
        epoch_spec = EpochTensors(
            matrix, matrix, vector, matrix, matrix, vector, tf.TensorSpec([None, None], tf.float32), vector
        )
        self._run = tf.function(self._steps, input_signature=[epoch_spec, scalar, scalar], jit_compile=jit_compile)

    def forward(self, book_rows: tf.Tensor, link_rows: tf.Tensor) -> tf.Tensor:
        """The model's output from already gathered embedding rows (batch, dim).

        Computes exactly Dot(normalize=True, axes=2) -> Reshape -> Dense(sigmoid) of the model (checked against
        model.predict in tests/test_training.py), but as an element-wise product and a row sum: Keras' Dot on
        (batch, 1, dim) runs a batched matmul of 1 x dim matrices, which is about 4 times slower here.
        """
        book_rows = tf.math.l2_normalize(book_rows, axis=-1)
        link_rows = tf.math.l2_normalize(link_rows, axis=-1)
        cosine = tf.reduce_sum(book_rows * link_rows, axis=-1)
        if self.dense is None:
            return cosine
        kernel, bias = self.dense_vars
        return tf.sigmoid(cosine * kernel[0, 0] + bias[0])

    def run(self, epoch: EpochTensors, start: int, stop: int) -> tuple[float, float]:
        """Train batches start..stop-1 of `epoch`; returns the sums of their losses and accuracies (-1 each for
        regression)."""
        loss_sum, accuracy_sum = self._run(epoch, tf.constant(start, tf.int32), tf.constant(stop, tf.int32))
        return float(loss_sum), float(accuracy_sum)

    def step(self, books: np.ndarray, links: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """Train one batch; returns its loss and accuracy."""
        books = np.asarray(books, dtype=np.int32)
        batch = Batch(books, np.asarray(links, dtype=np.int32), np.asarray(labels, dtype=np.float32))
        return self.run(epoch_tensors(batch, [slice(0, len(books))], self.n_books, self.n_links), 0, 1)

    def _steps(self, epoch: EpochTensors, start: tf.Tensor, stop: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        def body(i: tf.Tensor, loss_sum: tf.Tensor, accuracy_sum: tf.Tensor) -> tuple[tf.Tensor, ...]:
            loss, accuracy = self._step(*(t[i] for t in epoch))
            return i + 1, loss_sum + loss, accuracy_sum + accuracy

        zero = tf.constant(0.0, tf.float32)
        _, loss_sum, accuracy_sum = tf.while_loop(lambda i, *_: i < stop, body, (start, zero, zero))
        return loss_sum, accuracy_sum

    def _step(
        self,
        book_rows: tf.Tensor,
        book_pos: tf.Tensor,
        n_book_rows: tf.Tensor,
        link_rows: tf.Tensor,
        link_pos: tf.Tensor,
        n_link_rows: tf.Tensor,
        labels: tf.Tensor,
        count: tf.Tensor,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        width = tf.shape(labels)[0]
        mask = tf.cast(tf.range(width) < count, tf.float32)
        n = tf.cast(count, tf.float32)
        index = (book_rows, link_rows)
        rows = [tf.gather(table, ids) for table, ids in zip(self.tables, index, strict=True)]
        with tf.GradientTape() as tape:
            tape.watch(rows)
            pred = self.forward(tf.gather(rows[0], book_pos), tf.gather(rows[1], link_pos))
            if self.dense is not None:
                p = tf.clip_by_value(pred, 1e-7, 1.0 - 1e-7)
                loss = -tf.reduce_sum(mask * (labels * tf.math.log(p) + (1.0 - labels) * tf.math.log(1.0 - p))) / n
                hits = tf.cast(tf.equal(tf.cast(pred > 0.5, tf.float32), labels), tf.float32)
                accuracy = tf.reduce_sum(mask * hits) / n
            else:
                loss = tf.reduce_sum(mask * tf.square(pred - labels)) / n
                accuracy = tf.constant(-1.0)
        # Gradients of the distinct rows (the gathers' gradients summed per row).
        grads = [tf.convert_to_tensor(g) for g in tape.gradient(loss, rows + self.dense_vars)]

        t = tf.cast(self.iterations + 1, tf.float32)
        lr_t = self.lr * tf.sqrt(1.0 - tf.pow(self.beta_2, t)) / (1.0 - tf.pow(self.beta_1, t))
        for table, moments, ids, n_rows, old, g in zip(
            self.tables, self.moments, index, (n_book_rows, n_link_rows), rows, grads, strict=False
        ):
            # Padding slots repeat the last distinct row: give them its gradient, so they compute the same values,
            # and write with scatter_update (a duplicate index writes the same value; scatter_sub would subtract
            # once per duplicate).
            g = tf.gather(g, tf.minimum(tf.range(width), n_rows - 1))
            m_old, v_old = tf.split(tf.gather(moments, ids), 2, axis=1)
            m = self.beta_1 * m_old + (1.0 - self.beta_1) * g
            v = self.beta_2 * v_old + (1.0 - self.beta_2) * tf.square(g)
            moments.scatter_update(tf.IndexedSlices(tf.concat([m, v], axis=1), ids))
            table.scatter_update(tf.IndexedSlices(old - lr_t * m / (tf.sqrt(v) + self.epsilon), ids))
        for m_var, v_var, var, g in zip(self.m, self.v, self.dense_vars, grads[len(self.tables) :], strict=True):
            m_var.assign(self.beta_1 * m_var + (1.0 - self.beta_1) * g)
            v_var.assign(self.beta_2 * v_var + (1.0 - self.beta_2) * tf.square(g))
            var.assign_sub(lr_t * m_var / (tf.sqrt(v_var) + self.epsilon))
        if self.dense_vars:  # the kernel's NonNeg constraint (embeddings/keras_model.py), which fit() would apply
            kernel = self.dense_vars[0]
            kernel.assign(tf.maximum(kernel, 0.0))
        self.iterations.assign_add(1)
        return loss, accuracy


def seed_everything(seed: int, deterministic: bool) -> None:
    keras.utils.set_random_seed(seed)  # python, numpy and TF global seeds (Keras initialisers draw from these)
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def make_model(data: TrainingData, params: TrainParams) -> tuple[keras.Model, SparseAdamStep]:
    seed_everything(params.seed, params.deterministic)
    model = build_model(data.n_books, data.n_links, dim=params.dim, mode=params.mode)
    return model, SparseAdamStep(model, params.mode, learning_rate=params.learning_rate)


def output_layer(model: keras.Model, mode: str) -> dict:
    """The trained output layer as plain numbers (what output_layer.json of a version holds)."""
    if mode != "classification":
        return {"mode": mode}
    kernel, bias = model.get_layer("output").get_weights()
    return {"mode": mode, "kernel": float(kernel.ravel()[0]), "bias": float(bias.ravel()[0])}


def model_vectors(model: keras.Model) -> tuple[np.ndarray, np.ndarray]:
    books = model.get_layer("book_embedding").get_weights()[0]
    links = model.get_layer("link_embedding").get_weights()[0]
    return normalise_rows(books), normalise_rows(links)


def train(
    data: TrainingData,
    params: TrainParams | None = None,
    on_progress: Callable[[dict], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train on data.pairs; returns L2-normalised book and link vectors and the per-epoch history."""
    params = (params or TrainParams()).resolved(len(data.pairs))
    started = time.perf_counter()
    model, stepper = make_model(data, params)
    sampler = BatchSampler(
        data.pairs,
        data.n_books,
        data.n_links,
        n_positive=params.batch_positives,
        negative_ratio=params.negative_ratio,
        mode=params.mode,
        seed=params.seed,
        negative_sampling=params.negative_sampling,
        popularity_power=params.popularity_power,
        positive_sampling=params.positive_sampling,
        positive_power=params.positive_power,
    )
    classification = params.mode == "classification"
    steps_per_epoch = sampler.steps_per_epoch
    total_steps = steps_per_epoch * params.epochs
    history: list[dict] = []
    examples_done = 0
    last_report = time.perf_counter()
    train_started = last_report

    def report(epoch: int, step: int, loss: float, accuracy: float | None, epoch_end: bool = False) -> None:
        elapsed = time.perf_counter() - train_started
        rate = examples_done / elapsed if elapsed > 0 else 0.0
        remaining = (total_steps - step) * sampler.batch_size
        on_progress(
            {
                "epoch_end": epoch_end,
                "epoch": epoch,
                "epochs": params.epochs,
                "step": step,
                "total_steps": total_steps,
                "loss": loss,
                "accuracy": accuracy,
                "examples_per_second": rate,
                "eta_seconds": remaining / rate if rate > 0 else None,
            }
        )

    def next_epoch() -> tuple[EpochTensors, int]:
        arrays, slices = sampler.epoch_arrays()
        return epoch_tensors(arrays, slices, data.n_books, data.n_links), len(arrays.labels)

    step = 0
    chunk = 1  # steps per compiled call; adapted to take about CHUNK_SECONDS
    # The next epoch is sampled and de-duplicated in a background thread while this one trains (the compiled
    # loop runs on one core and releases the GIL). The sampler's draws stay in epoch order: same seed, same batches.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="epoch-sampler") as pool:
        upcoming = pool.submit(next_epoch)
        for epoch in range(1, params.epochs + 1):
            epoch_started = time.perf_counter()
            stepper.lr.assign(params.learning_rate_at(epoch))
            tensors, n_examples = upcoming.result()
            if epoch < params.epochs:
                upcoming = pool.submit(next_epoch)
            loss_sum = accuracy_sum = 0.0
            done = 0
            while done < steps_per_epoch:
                if should_cancel is not None and should_cancel():
                    upcoming.cancel()
                    raise TrainingCancelled(f"cancelled at epoch {epoch}, step {step}")
                stop = min(steps_per_epoch, done + chunk)
                chunk_started = time.perf_counter()
                loss, accuracy = stepper.run(tensors, done, stop)
                seconds = time.perf_counter() - chunk_started
                loss_sum, accuracy_sum = loss_sum + loss, accuracy_sum + accuracy
                examples_done += min(stop * sampler.batch_size, n_examples) - done * sampler.batch_size
                step += stop - done
                chunk = max(1, min(steps_per_epoch, round(CHUNK_SECONDS / (seconds / (stop - done)))))
                done = stop
                now = time.perf_counter()
                if on_progress is not None and now - last_report >= PROGRESS_INTERVAL and done < steps_per_epoch:
                    last_report = now
                    report(epoch, step, loss_sum / done, accuracy_sum / done if classification else None)
            seconds = time.perf_counter() - epoch_started
            entry = {
                "epoch": epoch,
                "loss": loss_sum / steps_per_epoch,
                "accuracy": accuracy_sum / steps_per_epoch if classification else None,
                "seconds": seconds,
                "examples_per_second": n_examples / seconds if seconds > 0 else 0.0,
            }
            history.append(entry)
            if on_progress is not None:
                last_report = time.perf_counter()
                report(epoch, step, entry["loss"], entry["accuracy"], epoch_end=True)

    book_vectors, link_vectors = model_vectors(model)
    return TrainResult(
        book_vectors, link_vectors, history, time.perf_counter() - started, output_layer(model, params.mode)
    )
