"""Training loop: the Keras model of embeddings/model.py, stepped by a sparse (lazy) Adam.

Keras' fit + Adam updates every row of both embedding tables at every step, so a step costs O(catalogue).
Here a tf.function step gathers only the rows a batch touches, runs the model's own layers on them
(Dot(normalize=True) -> Reshape -> Dense), and applies Adam to those rows alone (moments and weights scattered
back), so a step costs O(batch). The Dense layer's two weights get a plain Adam step.
"""

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from embeddings.batches import BatchSampler
from embeddings.dataset import TrainingData

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras
import tensorflow as tf

from embeddings.model import build_model

PROGRESS_INTERVAL = 0.5  # seconds between on_progress calls inside an epoch


class TrainingCancelled(Exception):
    """should_cancel() said stop; nothing was written."""


@dataclass
class TrainParams:
    # Measured on the Wikipedia sample (benchmarks/train_quality.py): the original 15 epochs at lr 0.001 are far
    # from converged there (about 30 steps an epoch); 50 epochs at lr 0.01 gave the best held-out AUC and book
    # metrics of the uniform-negative settings tried (100 epochs or lr 0.005 no better, batch 256 worse).
    epochs: int = 50
    dim: int = 50
    negative_ratio: float = 2.0
    mode: str = "classification"
    min_link_count: int | None = None  # None: dataset.default_min_link_count(n_books)
    batch_positives: int = 1024
    learning_rate: float = 0.01
    seed: int = 42
    negative_sampling: str = "uniform"  # or "popularity": links drawn by (books using them) ** popularity_power
    popularity_power: float = 0.75
    deterministic: bool = True  # TF op determinism: same seed, same vectors

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainParams":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class TrainResult:
    book_vectors: np.ndarray  # float32 (n_books, dim), L2-normalised rows
    link_vectors: np.ndarray  # float32 (n_links, dim), L2-normalised rows
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class SparseAdamStep:
    """One compiled training step over the model's variables; touches only the embedding rows in the batch."""

    def __init__(
        self,
        model: keras.Model,
        mode: str,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,  # Keras' Adam defaults
    ) -> None:
        self.mode = mode
        self.tables = [model.get_layer(name).embeddings.value for name in ("book_embedding", "link_embedding")]
        self.dense = model.get_layer("output") if mode == "classification" else None
        self.dense_vars = [w.value for w in self.dense.trainable_weights] if self.dense else []
        # Adam moments: one row per embedding row; untouched rows keep theirs (lazy Adam).
        self.m = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.tables + self.dense_vars]
        self.v = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.tables + self.dense_vars]
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.lr, self.beta_1, self.beta_2, self.epsilon = learning_rate, beta_1, beta_2, epsilon
        spec = [tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.float32)]
        self.step = tf.function(self._step, input_signature=spec, jit_compile=False)

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

    def _step(self, books: tf.Tensor, links: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        unique_books, book_pos = tf.unique(books)
        unique_links, link_pos = tf.unique(links)
        rows = [tf.gather(self.tables[0], unique_books), tf.gather(self.tables[1], unique_links)]
        with tf.GradientTape() as tape:
            tape.watch(rows)
            pred = self.forward(tf.gather(rows[0], book_pos), tf.gather(rows[1], link_pos))
            if self.dense is not None:
                p = tf.clip_by_value(pred, 1e-7, 1.0 - 1e-7)
                loss = -tf.reduce_mean(labels * tf.math.log(p) + (1.0 - labels) * tf.math.log(1.0 - p))
                accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.cast(pred > 0.5, tf.float32), labels), tf.float32))
            else:
                loss = tf.reduce_mean(tf.square(pred - labels))
                accuracy = tf.constant(-1.0)
        grads = tape.gradient(loss, rows + self.dense_vars)
        # Gradients of gathered rows are already summed per unique row (tf.unique + gather).
        grads = [tf.convert_to_tensor(g) for g in grads]

        t = tf.cast(self.iterations + 1, tf.float32)
        lr_t = self.lr * tf.sqrt(1.0 - tf.pow(self.beta_2, t)) / (1.0 - tf.pow(self.beta_1, t))
        for i, (table, index) in enumerate(zip(self.tables, (unique_books, unique_links), strict=True)):
            g = grads[i]
            m = self.beta_1 * tf.gather(self.m[i], index) + (1.0 - self.beta_1) * g
            v = self.beta_2 * tf.gather(self.v[i], index) + (1.0 - self.beta_2) * tf.square(g)
            self.m[i].scatter_update(tf.IndexedSlices(m, index))
            self.v[i].scatter_update(tf.IndexedSlices(v, index))
            table.scatter_sub(tf.IndexedSlices(lr_t * m / (tf.sqrt(v) + self.epsilon), index))
        for j, var in enumerate(self.dense_vars, start=len(self.tables)):
            g = grads[j]
            self.m[j].assign(self.beta_1 * self.m[j] + (1.0 - self.beta_1) * g)
            self.v[j].assign(self.beta_2 * self.v[j] + (1.0 - self.beta_2) * tf.square(g))
            var.assign_sub(lr_t * self.m[j] / (tf.sqrt(self.v[j]) + self.epsilon))
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


def model_vectors(model: keras.Model) -> tuple[np.ndarray, np.ndarray]:
    books = model.get_layer("book_embedding").get_weights()[0]
    links = model.get_layer("link_embedding").get_weights()[0]
    return l2_normalise(books), l2_normalise(links)


def train(
    data: TrainingData,
    params: TrainParams | None = None,
    on_progress: Callable[[dict], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train on data.pairs; returns L2-normalised book and link vectors and the per-epoch history."""
    params = params or TrainParams()
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
    )
    classification = params.mode == "classification"
    steps_per_epoch = sampler.steps_per_epoch
    total_steps = steps_per_epoch * params.epochs
    history: list[dict] = []
    examples_done = 0
    last_report = time.perf_counter()
    train_started = last_report

    def report(epoch: int, step: int, loss: float, accuracy: float | None) -> None:
        elapsed = time.perf_counter() - train_started
        rate = examples_done / elapsed if elapsed > 0 else 0.0
        remaining = (total_steps - step) * sampler.batch_size
        on_progress(
            {
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

    step = 0
    for epoch in range(1, params.epochs + 1):
        epoch_started = time.perf_counter()
        arrays, slices = sampler.epoch_arrays()
        losses = np.zeros(len(slices), dtype=np.float64)
        accuracies = np.zeros(len(slices), dtype=np.float64)
        for i, part in enumerate(slices):
            if should_cancel is not None and should_cancel():
                raise TrainingCancelled(f"cancelled at epoch {epoch}, step {step}")
            loss, accuracy = stepper.step(arrays.books[part], arrays.links[part], arrays.labels[part])
            losses[i], accuracies[i] = float(loss), float(accuracy)
            examples_done += part.stop - part.start
            step += 1
            now = time.perf_counter()
            if on_progress is not None and now - last_report >= PROGRESS_INTERVAL and i + 1 < len(slices):
                last_report = now
                accuracy_so_far = float(accuracies[: i + 1].mean()) if classification else None
                report(epoch, step, float(losses[: i + 1].mean()), accuracy_so_far)
        seconds = time.perf_counter() - epoch_started
        entry = {
            "epoch": epoch,
            "loss": float(losses.mean()),
            "accuracy": float(accuracies.mean()) if classification else None,
            "seconds": seconds,
            "examples_per_second": len(arrays.labels) / seconds if seconds > 0 else 0.0,
        }
        history.append(entry)
        if on_progress is not None:
            last_report = time.perf_counter()
            report(epoch, step, entry["loss"], entry["accuracy"])

    book_vectors, link_vectors = model_vectors(model)
    return TrainResult(book_vectors, link_vectors, history, time.perf_counter() - started)
