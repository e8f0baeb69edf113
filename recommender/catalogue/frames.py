"""The catalogue as the data frames training starts from (one query each, no per-row Python objects).

The embeddings app never imports the catalogue: it calls the loader that settings.TRAINING_FRAMES_LOADER names
(this function), so what training needs reaches it as plain data and the imports point one way.
"""

import pandas as pd

from embeddings.chunking import chunks
from recommender.catalogue.models import Book, BookLink
from recommender.catalogue.series import named_series


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


def load_book_links(book_ids: list[int]) -> dict[int, list[int]]:
    """{book id: [link ids]} for the asked books that exist (an empty list for a book without links)."""
    found: dict[int, list[int]] = {}
    for chunk in chunks(list(book_ids), 900):
        for book_id in Book.objects.filter(pk__in=chunk).values_list("id", flat=True):
            found[book_id] = []
        pairs = BookLink.objects.filter(book_id__in=chunk, book__has_links=True).values_list("book_id", "link_id")
        for book_id, link_id in pairs:
            found[book_id].append(link_id)
    return found


def load_book_labels(book_ids: list[int]) -> dict[int, tuple[str, str]]:
    """{book id: (author, series)} for the asked books that exist: what load_frames gives training. A book whose
    series refresh_series has not derived yet (added in the admin) gets the one its title or infobox names."""
    found: dict[int, tuple[str, str]] = {}
    for chunk in chunks(list(book_ids), 900):
        rows = Book.objects.filter(pk__in=chunk).values_list("id", "author", "series", "title", "infobox")
        for book_id, author, series, title, infobox in rows:
            found[book_id] = (author, series or named_series(title, infobox))
    return found
