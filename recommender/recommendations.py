"""Recommendations with their explanations: vector search from the active version, names from the catalogue.

Plain functions over ids, so the API, the pages, the widget and `manage.py similar` share them and tests call them
without HTTP. The catalogue's side comes from this process's snapshot of it (recommender/catalogue/snapshot.py) when
that holds every book involved, else from the database.

A recommended book is a BookResult, made only here; the API answers `to_json()` of it.
Raises embeddings.serving.NoActiveVersion / UnknownId as the serving layer does. Inside `memory_only()` (the WSGI
fast path, which runs outside Django's request cycle and so must not open database connections) any answer that
would need the database raises NeedsDatabase instead.
"""

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from embeddings.serving import LoadedVersion, get_active, require_active
from recommender.catalogue.covers import initials, placeholder_hue
from recommender.catalogue.models import Book, BookLink, Link
from recommender.catalogue.snapshot import holder

SHARED_LINKS_SHOWN = 5
MAX_READER_IDS = 50  # liked + disliked books a reader may name (API and "For me")

_memory_only: ContextVar[bool] = ContextVar("memory_only", default=False)


class NeedsDatabase(RuntimeError):
    """The answer needs the database (the snapshot is not ready or lacks a book), which memory_only() rules out."""


@contextlib.contextmanager
def memory_only() -> Iterator[None]:
    token = _memory_only.set(True)
    try:
        yield
    finally:
        _memory_only.reset(token)


def _database() -> None:
    """Called before each database fallback."""
    if _memory_only.get():
        raise NeedsDatabase


def bar_percent(similarity: float) -> int:
    """Width of a similarity bar: cosine similarity as a percentage, negatives shown as empty."""
    return round(max(0.0, min(1.0, similarity)) * 100)


@dataclass(frozen=True)
class BookCard:
    """A book as a tile shows it: cover is a URL or '' (then a placeholder with initials on a per-book hue)."""

    id: int
    title: str
    author: str
    genre: str
    cover: str

    @classmethod
    def of(cls, book: Book) -> "BookCard":
        return cls(book.pk, book.title, book.author, book.genre, book.cover_image_url())

    @property
    def initials(self) -> str:
        return initials(self.title)

    @property
    def hue(self) -> int:
        return placeholder_hue(self.id)


@dataclass(frozen=True)
class BookResult(BookCard):
    """A recommended book: its card, the cosine similarity and the shared links that explain it, as (id, name)."""

    similarity: float
    shared_links: tuple[tuple[int, str], ...]
    folded_in: bool = False  # its vector was folded in after training (embeddings/fold_in.py), not trained

    @property
    def percent(self) -> int:
        return bar_percent(self.similarity)

    def to_json(self) -> dict:
        """The API's shape (openapi.json): the cover as `cover_url`, shared links by name."""
        return {
            "id": self.id,
            "title": self.title,
            "author": self.author,
            "genre": self.genre,
            "cover_url": self.cover,
            "similarity": self.similarity,
            "shared_links": [name for _, name in self.shared_links],
            "folded_in": self.folded_in,
        }


def both_liked_and_disliked(liked: Iterable[int], disliked: Iterable[int]) -> list[int]:
    return sorted(set(liked) & set(disliked))


def known_books(ids: list[int]) -> tuple[dict[int, Book], list[int]]:
    """The books with these ids, and the ids (in the order given) that no book has."""
    known = Book.objects.only("id", "title", "author", "genre", "cover_url", "infobox").in_bulk(ids)
    return known, [i for i in ids if i not in known]


def missing_books(ids: list[int]) -> list[int]:
    """The ids (in the order given) that no book has: from the catalogue snapshot when it holds them all."""
    snapshot = holder.get(get_active(settings.ARTIFACTS_DIR))
    if snapshot is not None and snapshot.has_books(ids):
        return []
    _database()
    return known_books(ids)[1]


def book_dict(book_id: int) -> dict | None:
    """A book's to_dict(), from the snapshot of the served version when it has one; None for an unknown id."""
    snapshot = holder.get(get_active(settings.ARTIFACTS_DIR))
    found = snapshot.book_dict(book_id) if snapshot is not None else None
    if found is None:
        _database()
        book = Book.objects.filter(pk=book_id).first()
        found = book.to_dict() if book is not None else None
    return found


def link_dict(link_id: int) -> dict | None:
    """A link's to_dict(), as book_dict."""
    snapshot = holder.get(get_active(settings.ARTIFACTS_DIR))
    found = snapshot.link_dict(link_id) if snapshot is not None else None
    if found is None:
        _database()
        link = Link.objects.filter(pk=link_id).first()
        found = link.to_dict() if link is not None else None
    return found


def active_version() -> LoadedVersion:
    return require_active(settings.ARTIFACTS_DIR)


def shared_links(
    book_ids: Iterable[int], anchor_links: QuerySet | set[int], limit: int = SHARED_LINKS_SHOWN
) -> dict[int, tuple[tuple[int, str], ...]]:
    """For each book, up to `limit` of the anchor links it also has as (id, name), rarest (most telling) first."""
    found: dict[int, list[tuple[int, str, int]]] = defaultdict(list)
    rows = BookLink.objects.filter(book_id__in=list(book_ids), link_id__in=anchor_links).values_list(
        "book_id", "link_id", "link__name", "link__book_count"
    )
    for book_id, link_id, name, count in rows:
        found[book_id].append((count, name, link_id))
    return {
        book_id: tuple((link_id, name) for _, name, link_id in sorted(links)[:limit])
        for book_id, links in found.items()
    }


def _book_results(
    found: list[tuple[int, float]], version: LoadedVersion, anchor_books: list[int] = (), anchor_link: int | None = None
) -> list[BookResult]:
    """Found (book id, similarity) as results explained by the links they share with the anchor books (or link).

    From the catalogue snapshot when it holds every book involved (no database trip), else from the database.
    """
    ids = [book_id for book_id, _ in found]
    snapshot = holder.get(version)
    in_memory = None if snapshot is None else snapshot.results(ids, list(anchor_books), anchor_link, SHARED_LINKS_SHOWN)
    if in_memory is not None:
        cards, explanations = in_memory
    else:
        _database()
        books, _ = known_books(ids)
        explanations = shared_links(books, link_ids_of(anchor_books) if anchor_link is None else {anchor_link})
        cards = {i: (book.title, book.author, book.genre, book.cover_image_url()) for i, book in books.items()}
    return [
        BookResult(
            book_id,
            *cards[book_id],
            similarity=round(float(similarity), 4),
            shared_links=explanations.get(book_id, ()),
            folded_in=version.is_folded_in(book_id),
        )
        for book_id, similarity in found
        if book_id in cards  # a book deleted from the catalogue since the version was trained is left out
    ]


def link_ids_of(book_ids: Iterable[int]) -> QuerySet:
    """The links of some books, as a subquery (one round trip with the query that uses it)."""
    return BookLink.objects.filter(book_id__in=list(book_ids)).values("link_id")


def is_folded_in(book_id: int) -> bool:
    """Whether the served version holds this book's vector as folded in (False with no version)."""
    version = get_active(settings.ARTIFACTS_DIR)
    return version is not None and version.is_folded_in(book_id)


def similar_books(book_id: int, k: int = 10) -> list[BookResult]:
    version = active_version()
    return _book_results(version.similar_books(book_id, k), version, anchor_books=[book_id])


def books_for_link(link_id: int, k: int = 10) -> list[BookResult]:
    version = active_version()
    return _book_results(version.books_for_link(link_id, k), version, anchor_link=link_id)


def similar_links(link_id: int, k: int = 10) -> list[dict]:
    version = active_version()
    found = version.similar_links(link_id, k)
    snapshot = holder.get(version)
    if snapshot is not None and snapshot.has_links(link_id for link_id, _ in found):
        links = {link_id: snapshot.link_dict(link_id) for link_id, _ in found}
    else:
        _database()
        links = {link.pk: link.to_dict() for link in Link.objects.in_bulk([link_id for link_id, _ in found]).values()}
    return [{**links[i], "similarity": round(float(similarity), 4)} for i, similarity in found if i in links]


def recommend(liked: list[int], disliked: list[int], k: int = 10) -> list[BookResult]:
    version = active_version()
    return _book_results(version.recommend(liked, disliked, k), version, anchor_books=liked)
