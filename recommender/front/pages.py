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
from recommender.catalogue.covers import initials
from recommender.catalogue.models import Book, Link

TRAIN_COMMAND = "python manage.py train --wait"
NO_MODEL = "no-model"
NO_VECTOR = "no-vector"
ENTRY_POOL = 60  # the most linked books, from which the home page picks its entry points
MAX_IDS = 50  # liked + disliked books on "For me", as the API allows


@dataclass
class Outcome:
    """Results from the recommender, or why there are none (problem is NO_MODEL or NO_VECTOR)."""

    results: list[dict] = field(default_factory=list)
    problem: str = ""
    missing_ids: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problem


def ask(call: Callable[[], list[dict]]) -> Outcome:
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


def book_card(book: Book) -> dict:
    """What a book tile needs: id, title, author, cover (URL or '') and placeholder initials."""
    return {
        "id": book.pk,
        "title": book.title,
        "author": book.author,
        "genre": book.genre,
        "cover": book.cover_image_url(),
        "initials": initials(book.title),
        "hue": placeholder_hue(book.pk),
    }


def placeholder_hue(book_id: int) -> int:
    """A colour for a placeholder cover, fixed per book, so that rows of placeholders are told apart."""
    return (book_id * 137) % 360


def bar_percent(similarity: float) -> int:
    """Width of a similarity bar: cosine similarity as a percentage, negatives shown as empty."""
    return round(max(0.0, min(1.0, similarity)) * 100)


def decorate(results: list[dict]) -> list[dict]:
    """Book results from recommender.recommendations, with covers, bar widths and shared links as (id, name)."""
    names = {name for r in results for name in r.get("shared_links", [])}
    link_ids = dict(Link.objects.filter(name__in=names).values_list("name", "id")) if names else {}
    decorated = []
    for result in results:
        decorated.append(
            {
                **result,
                "cover": result["cover_url"],
                "initials": initials(result["title"]),
                "hue": placeholder_hue(result["id"]),
                "percent": bar_percent(result["similarity"]),
                "links": [{"id": link_ids.get(name), "name": name} for name in result.get("shared_links", [])],
            }
        )
    return decorated


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


def entry_points(count: int = 6, day: datetime.date | None = None) -> list[dict]:
    """A handful of well-linked books, the same all day and different the next."""
    day = day or datetime.date.today()
    ids = well_linked_ids()
    chosen = random.Random(day.toordinal()).sample(ids, min(count, len(ids)))
    books = Book.objects.in_bulk(chosen)
    return [book_card(books[i]) for i in chosen if i in books]


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
    outcome = ask(lambda: recommendations.similar_books(book, k))
    outcome.results = decorate(outcome.results)
    return {
        "book": book,
        "card": book_card(book),
        "infobox": [(infobox_label(label), value) for label, value in book.infobox_fields()],
        "links": book.links.order_by("-book_count", "name"),
        "similar": outcome,
    }


def link_page(link: Link, k: int = 10, members_shown: int = 30) -> dict:
    books = ask(lambda: recommendations.books_for_link(link, k))
    books.results = decorate(books.results)
    links = ask(lambda: recommendations.similar_links(link, 2 * k))
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
            if item.isdigit() and int(item) not in ids and len(ids) < MAX_IDS:
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
    disliked = [i for i in disliked if i not in liked][: max(0, MAX_IDS - len(liked))]
    known = Book.objects.only("id", "title", "author", "cover_url", "infobox").in_bulk(liked + disliked)
    unknown = [i for i in liked + disliked if i not in known]
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
        outcome.results = decorate(outcome.results)
    search = list(Book.objects.ranked_search(query)[:10]) if query else []

    def picked(ids: list[int], other: list[int], kind: str) -> list[dict]:
        cards = []
        for i in ids:
            card = book_card(known[i])
            rest = [j for j in ids if j != i]
            card["remove_url"] = for_me_url(rest, other) if kind == "like" else for_me_url(other, rest)
            card["no_vector"] = i in without_vector
            cards.append(card)
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
                **book_card(book),
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

WIDGET_MAX_K = 20


def widget_k(raw: str | None, default: int = 5) -> int:
    try:
        return max(1, min(WIDGET_MAX_K, int(raw or default)))
    except ValueError:
        return default


def widget_book_page(book: Book | None, k: int) -> dict:
    if book is None:
        return {"book": None, "similar": Outcome(problem="no-book"), "k": k}
    outcome = ask(lambda: recommendations.similar_books(book, k))
    outcome.results = decorate(outcome.results)
    return {"book": book, "similar": outcome, "k": k}


def example_book() -> Book | None:
    """A well-linked book for the widget page's live preview."""
    ids = well_linked_ids()
    return Book.objects.filter(pk=ids[0]).first() if ids else Book.objects.linked().first()
