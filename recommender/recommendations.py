"""Recommendations with their explanations: vector search from the active version, names from the catalogue.

Plain functions over model objects, so the API, the pages and `manage.py similar` share them and tests call
them without HTTP. Raises embeddings.serving.NoActiveVersion / UnknownId as the serving layer does.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.conf import settings
from django.db.models import QuerySet

from embeddings.serving import LoadedVersion, require_active
from recommender.catalogue.models import Book, BookLink, Link

SHARED_LINKS_SHOWN = 5


def active_version() -> LoadedVersion:
    return require_active(settings.ARTIFACTS_DIR)


def shared_links(book_ids: Iterable[int], anchor_links: QuerySet | set[int], limit: int = SHARED_LINKS_SHOWN) -> dict:
    """For each book, up to `limit` of the anchor links it also has, rarest (most telling) first."""
    found: dict[int, list[tuple[int, str]]] = defaultdict(list)
    rows = BookLink.objects.filter(book_id__in=list(book_ids), link_id__in=anchor_links).values_list(
        "book_id", "link__name", "link__book_count"
    )
    for book_id, name, count in rows:
        found[book_id].append((count, name))
    return {book_id: [name for _, name in sorted(pairs)[:limit]] for book_id, pairs in found.items()}


def _book_results(found: list[tuple[int, float]], anchor_links: QuerySet | set[int]) -> list[dict]:
    ids = [book_id for book_id, _ in found]
    books = Book.objects.only("id", "title", "author", "genre", "cover_url", "infobox").in_bulk(ids)
    explanations = shared_links(ids, anchor_links)
    results = []
    for book_id, similarity in found:
        book = books.get(book_id)
        if book is None:  # deleted from the catalogue since the version was trained
            continue
        results.append(
            {
                "id": book.pk,
                "title": book.title,
                "author": book.author,
                "genre": book.genre,
                "cover_url": book.cover_image_url(),
                "similarity": round(float(similarity), 4),
                "shared_links": explanations.get(book.pk, []),
            }
        )
    return results


def link_ids_of(book_ids: Iterable[int]) -> QuerySet:
    """The links of some books, as a subquery (one round trip with the query that uses it)."""
    return BookLink.objects.filter(book_id__in=list(book_ids)).values("link_id")


def similar_books(book: Book, k: int = 10) -> list[dict]:
    found = active_version().similar_books(book.pk, k)
    return _book_results(found, link_ids_of([book.pk]))


def books_for_link(link: Link, k: int = 10) -> list[dict]:
    found = active_version().books_for_link(link.pk, k)
    return _book_results(found, {link.pk})


def similar_links(link: Link, k: int = 10) -> list[dict]:
    found = active_version().similar_links(link.pk, k)
    links = Link.objects.in_bulk([link_id for link_id, _ in found])
    return [
        {**links[link_id].to_dict(), "similarity": round(float(similarity), 4)}
        for link_id, similarity in found
        if link_id in links
    ]


def recommend(liked: list[int], disliked: list[int], k: int = 10) -> list[dict]:
    found = active_version().recommend(liked, disliked, k)
    return _book_results(found, link_ids_of(liked))

