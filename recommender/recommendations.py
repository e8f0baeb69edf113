"""Recommendations with their explanations: vector search from the active version, names from the catalogue.

Plain functions over model objects, so the API, the pages, the widget and `manage.py similar` share them and tests
call them without HTTP. A recommended book is a BookResult, made only here; the API answers `to_json()` of it.
Raises embeddings.serving.NoActiveVersion / UnknownId as the serving layer does.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from embeddings.serving import LoadedVersion, get_active, require_active
from recommender.catalogue.covers import initials, placeholder_hue
from recommender.catalogue.models import Book, BookLink, Link

SHARED_LINKS_SHOWN = 5
MAX_READER_IDS = 50  # liked + disliked books a reader may name (API and "For me")


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
    found: list[tuple[int, float]], anchor_links: QuerySet | set[int], version: LoadedVersion
) -> list[BookResult]:
    books, _ = known_books([book_id for book_id, _ in found])
    explanations = shared_links(books, anchor_links)
    return [
        BookResult(
            **vars(BookCard.of(books[book_id])),
            similarity=round(float(similarity), 4),
            shared_links=explanations.get(book_id, ()),
            folded_in=version.is_folded_in(book_id),
        )
        for book_id, similarity in found
        if book_id in books  # a book deleted from the catalogue since the version was trained is left out
    ]


def link_ids_of(book_ids: Iterable[int]) -> QuerySet:
    """The links of some books, as a subquery (one round trip with the query that uses it)."""
    return BookLink.objects.filter(book_id__in=list(book_ids)).values("link_id")


def is_folded_in(book_id: int) -> bool:
    """Whether the served version holds this book's vector as folded in (False with no version)."""
    version = get_active(settings.ARTIFACTS_DIR)
    return version is not None and version.is_folded_in(book_id)


def similar_books(book: Book, k: int = 10) -> list[BookResult]:
    version = active_version()
    return _book_results(version.similar_books(book.pk, k), link_ids_of([book.pk]), version)


def books_for_link(link: Link, k: int = 10) -> list[BookResult]:
    version = active_version()
    return _book_results(version.books_for_link(link.pk, k), {link.pk}, version)


def similar_links(link: Link, k: int = 10) -> list[dict]:
    found = active_version().similar_links(link.pk, k)
    links = Link.objects.in_bulk([link_id for link_id, _ in found])
    return [
        {**links[link_id].to_dict(), "similarity": round(float(similarity), 4)}
        for link_id, similarity in found
        if link_id in links
    ]


def recommend(liked: list[int], disliked: list[int], k: int = 10) -> list[BookResult]:
    version = active_version()
    return _book_results(version.recommend(liked, disliked, k), link_ids_of(liked), version)
