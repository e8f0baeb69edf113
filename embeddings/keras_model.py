"""The Keras model of the original project: book and link embeddings compared by cosine.

Imports TensorFlow/Keras at module level: only training code may import this module, never web processes.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras

from embeddings.batches import MODES


def build_model(n_books: int, n_links: int, dim: int = 50, mode: str = "classification") -> keras.Model:
    """Inputs `book` and `link` (one integer each) -> cosine of their embeddings.

    classification: Dense(1, sigmoid) on the cosine, binary cross-entropy, labels 1/0.
    regression: the cosine itself, mean squared error, labels 1/-1.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    book = keras.Input(shape=(1,), name="book", dtype="int32")
    link = keras.Input(shape=(1,), name="link", dtype="int32")
    book_embedding = keras.layers.Embedding(n_books, dim, name="book_embedding")(book)
    link_embedding = keras.layers.Embedding(n_links, dim, name="link_embedding")(link)
    merged = keras.layers.Dot(normalize=True, axes=2, name="dot_product")([book_embedding, link_embedding])
    merged = keras.layers.Reshape(target_shape=(1,), name="reshape")(merged)
    if mode == "classification":
        # A non-negative weight on the cosine, so that a book's links are the links nearest to it. Left free, the
        # weight keeps the sign it starts with (a third of small runs here ended negative), and then the book
        # nearest to a link is the least likely to have it: "books for a link" and the link AUC would be inverted.
        non_negative = keras.constraints.NonNeg()
        output = keras.layers.Dense(1, activation="sigmoid", name="output", kernel_constraint=non_negative)
        merged = output(merged)
        output.kernel.assign(keras.ops.abs(output.kernel))  # the same draw as before, made positive
        model = keras.Model(inputs=[book, link], outputs=merged)
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    else:
        model = keras.Model(inputs=[book, link], outputs=merged)
        model.compile(optimizer="adam", loss="mse")
    return model
