"""What the reader-facing pages show, as plain functions over the catalogue and recommender.recommendations.

Views only pick parameters and render; tests call these directly. The recommender may be unable to answer
(no model trained yet, or a book or link without a vector): that comes back as an Outcome with a `problem`, so
every page can say what happened instead of failing.
"""

import datetime
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.cache import cache
from django.db.models import Count, Max
from django.urls import reverse

from embeddings.serving import NoActiveVersion, UnknownId
from recommender import recommendations
from recommender.catalogue.models import Book, Link
from recommender.fold_ins import vector_state
from recommender.recommendations import MAX_READER_IDS, BookCard, bar_percent

NO_MODEL = "no-model"
NO_VECTOR = "no-vector"
NO_BOOK = "no-book"
ENTRY_POOL = 60  # the most linked books, from which the home page picks its entry points


@dataclass
class Outcome:
    """Results from the recommender, or why there are none (problem is NO_MODEL, NO_VECTOR or NO_BOOK)."""

    results: list = field(default_factory=list)
    problem: str = ""
    missing_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problem

    # named states for the templates
    @property
    def no_model(self) -> bool:
        return self.problem == NO_MODEL

    @property
    def no_vector(self) -> bool:
        return self.problem == NO_VECTOR


def ask(call: Callable[[], list]) -> Outcome:
    try:
        return Outcome(call())
    except NoActiveVersion:
        return Outcome(problem=NO_MODEL)
    except UnknownId as exc:
        return Outcome(problem=NO_VECTOR, missing_ids=exc.ids)


def model_ready() -> bool:
    try:
        recommendations.active_version()
    except NoActiveVersion:
        return False
    return True


def decorate_links(results: list[dict]) -> list[dict]:
    return [{**result, "percent": bar_percent(result["similarity"])} for result in results]


# Home -------------------------------------------------------------------------------------------------------


def well_linked_ids(pool: int = ENTRY_POOL) -> list[int]:
    """Ids of the books with the most links (cached for an hour: counting them reads every BookLink)."""
    shape = Book.objects.aggregate(n=Count("id"), top=Max("id"))  # a new key whenever the catalogue changes
    key = f"front:well-linked:{pool}:{shape['n']}:{shape['top']}"
    ids = cache.get(key)
    if ids is None:
        rows = Book.objects.linked().annotate(n=Count("book_links")).order_by("-n", "title")[:pool]
        ids = list(rows.values_list("id", flat=True))
        cache.set(key, ids, 3600)
    return ids


def entry_points(count: int = 6, day: datetime.date | None = None) -> list[BookCard]:
    """A handful of well-linked books, the same all day and different the next."""
    day = day or datetime.date.today()
    ids = well_linked_ids()
    chosen = random.Random(day.toordinal()).sample(ids, min(count, len(ids)))
    books = Book.objects.in_bulk(chosen)
    return [BookCard.of(books[i]) for i in chosen if i in books]


def popular_links(count: int = 12) -> list[Link]:
    return list(Link.objects.filter(book_count__gt=1).order_by("-book_count", "name")[:count])


def home_page() -> dict:
    return {
        "entry_points": entry_points(),
        "popular_links": popular_links(),
        "book_count": Book.objects.count(),
        "model_ready": model_ready(),
    }


# Book and link pages ----------------------------------------------------------------------------------------


ACRONYMS = {"isbn", "oclc", "lc", "asin", "issn", "doi", "url"}


def infobox_label(label: str) -> str:
    """'oclc' -> 'OCLC', 'pub date' -> 'Pub date'."""
    words = [w.upper() if w.lower() in ACRONYMS else w for w in label.split()]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


def book_page(book: Book, k: int = 10) -> dict:
    return {
        "book": book,
        "card": BookCard.of(book),
        "infobox": [(infobox_label(label), value) for label, value in book.infobox_fields()],
        "links": book.links.order_by("-book_count", "name"),
        "similar": ask(lambda: recommendations.similar_books(book.pk, k)),
        "vector": vector_state(book),  # folded in, or a fold-in pending: "recommendations in a moment"
    }


def link_page(link: Link, k: int = 10, members_shown: int = 30) -> dict:
    books = ask(lambda: recommendations.books_for_link(link.pk, k))
    links = ask(lambda: recommendations.similar_links(link.pk, 2 * k))
    links.results = decorate_links(links.results)
    members = link.books.order_by("title").only("id", "title", "author")
    return {
        "link": link,
        "nearest_books": books,
        "similar_links": links,
        "members": members[:members_shown],
        "member_count": members.count(),
    }


# For me -----------------------------------------------------------------------------------------------------


def parse_ids(raw: str | Iterable[str] | None) -> list[int]:
    """Book ids from '1,2,3' (or repeated parameters), in order, without duplicates or junk."""
    if raw is None:
        return []
    parts = [raw] if isinstance(raw, str) else list(raw)
    ids: list[int] = []
    for part in parts:
        for item in part.replace(" ", ",").split(","):
            item = item.strip()
            if item.isdigit() and int(item) not in ids and len(ids) < MAX_READER_IDS:
                ids.append(int(item))
    return ids


def ids_param(ids: Iterable[int]) -> str:
    return ",".join(str(i) for i in ids)


def for_me_url(liked: list[int], disliked: list[int]) -> str:
    params = []
    if liked:
        params.append(f"like={ids_param(liked)}")
    if disliked:
        params.append(f"dislike={ids_param(disliked)}")
    return reverse("front:for-me") + ("?" + "&".join(params) if params else "")


def for_me_page(liked: list[int], disliked: list[int], query: str = "", k: int = 12) -> dict:
    """Recommendations for liked and disliked ids; ids that are unknown or have no vector are dropped and named."""
    both = recommendations.both_liked_and_disliked(liked, disliked)
    disliked = [i for i in disliked if i not in both][: max(0, MAX_READER_IDS - len(liked))]
    known, unknown = recommendations.known_books(liked + disliked)
    liked = [i for i in liked if i in known]
    disliked = [i for i in disliked if i in known]
    without_vector: list[int] = []
    outcome = Outcome()
    if liked or disliked:
        outcome = ask(lambda: recommendations.recommend(liked, disliked, k))
        if outcome.problem == NO_VECTOR:  # leave those out and ask again with the rest
            without_vector = outcome.missing_ids
            rest_liked = [i for i in liked if i not in without_vector]
            rest_disliked = [i for i in disliked if i not in without_vector]
            outcome = (
                ask(lambda: recommendations.recommend(rest_liked, rest_disliked, k))
                if rest_liked or rest_disliked
                else Outcome()
            )
    search = list(Book.objects.ranked_search(query)[:10]) if query else []

    def picked(ids: list[int], other: list[int], kind: str) -> list[dict]:
        cards = []
        for i in ids:
            rest = [j for j in ids if j != i]
            remove_url = for_me_url(rest, other) if kind == "like" else for_me_url(other, rest)
            cards.append({"id": i, "title": known[i].title, "remove_url": remove_url, "no_vector": i in without_vector})
        return cards

    chosen = set(liked) | set(disliked)
    return {
        "liked": picked(liked, disliked, "like"),
        "disliked": picked(disliked, liked, "dislike"),
        "like_param": ids_param(liked),
        "dislike_param": ids_param(disliked),
        "unknown_ids": unknown,
        "without_vector": [known[i] for i in without_vector if i in known],
        "recommendations": outcome,
        "asked": bool(liked or disliked),
        "query": query,
        "search_results": [
            {
                "id": book.pk,
                "title": book.title,
                "author": book.author,
                "like_url": for_me_url([*liked, book.pk], disliked),
                "dislike_url": for_me_url(liked, [*disliked, book.pk]),
            }
            for book in search
            if book.pk not in chosen
        ],
        "share_url": for_me_url(liked, disliked),
        "model_ready": outcome.problem != NO_MODEL and model_ready(),
        "no_model": Outcome(problem=NO_MODEL),
    }


# Widget -----------------------------------------------------------------------------------------------------


def widget_book_page(book: Book | None, k: int) -> dict:
    if book is None:
        return {"book": None, "similar": Outcome(problem=NO_BOOK), "k": k}
    return {"book": book, "similar": ask(lambda: recommendations.similar_books(book.pk, k)), "k": k}


def example_book() -> Book | None:
    """A well-linked book for the widget page's live preview."""
    ids = well_linked_ids()
    return Book.objects.filter(pk=ids[0]).first() if ids else Book.objects.linked().first()
