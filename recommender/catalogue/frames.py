"""The catalogue as the data frames training starts from (one query each, no per-row Python objects).

The embeddings app never imports the catalogue: it calls the loader that settings.TRAINING_FRAMES_LOADER names
(this function), so what training needs reaches it as plain data and the imports point one way.
"""

import pandas as pd

from recommender.catalogue.models import Book, BookLink


def load_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(books: id, title, author, genre, series; pairs: book_id, link_id) of the books that have links."""
    books = pd.DataFrame.from_records(
        Book.objects.linked().values_list("id", "title", "author", "genre", "series"),
        columns=["id", "title", "author", "genre", "series"],
    )
    pairs = pd.DataFrame.from_records(
        BookLink.objects.filter(book__has_links=True).values_list("book_id", "link_id"),
        columns=["book_id", "link_id"],
    )
    return books, pairs
