"""The API's answers as plain data: what the views send as JSON and what the WSGI fast path (fast_path.py) serves.

Parameters come in raw (the query string's k, the request body), so both callers check them with the same code and
the same messages; failures are exceptions (BadRequest, Http404, UnknownBooks, and the serving layer's), which the
views' json_api decorator turns into JSON errors and the fast path turns into "let Django answer".
"""

from collections.abc import Callable

import orjson
from django.http import Http404, HttpResponse

from recommender import recommendations
from recommender.api.params import MAX_ID, BadRequest, id_list, int_param, parse_json_object

MAX_K = 100


class UnknownBooks(LookupError):
    """Books named in a request that the catalogue does not hold: answered with HTTP 404 and their ids."""

    def __init__(self, ids: list[int]) -> None:
        super().__init__(f"unknown book ids: {ids}")
        self.ids = ids


def encode(answer: dict) -> bytes:
    """An answer's JSON: orjson, several times faster than the json module on these lists of books (an uncached
    answer's budget is a fraction of a millisecond), and null for a NaN where json would write invalid JSON."""
    return orjson.dumps(answer)


def response(answer: dict) -> HttpResponse:
    """What the views send: the bytes of encode(), which the WSGI fast path sends too."""
    return HttpResponse(encode(answer), content_type="application/json")


def as_json(results: list) -> list[dict]:
    """Results as the API answers them: BookResult.to_json() (links are dicts already)."""
    return [r.to_json() if isinstance(r, recommendations.BookResult) else r for r in results]


def k_param(raw: object) -> int:
    return int_param(raw, "k", 10, 1, MAX_K)


def nearest(kind: str, describe: Callable[[int], dict | None], find: Callable, pk: int, raw_k: object) -> dict:
    """A book or link and what is nearest to it. k is checked first, so a bad k is a 400 even for an unknown id."""
    k = k_param(raw_k)
    described = describe(pk) if pk <= MAX_ID else None
    if described is None:
        raise Http404(f"no {kind} with id {pk}")
    if kind == "book":
        described["folded_in"] = recommendations.is_folded_in(pk)
    return {kind: described, "results": as_json(find(pk, k))}


def similar_books(book_id: int, raw_k: object) -> dict:
    return nearest("book", recommendations.book_dict, recommendations.similar_books, book_id, raw_k)


def recommend(body: bytes) -> dict:
    """The answer to a reader's {"liked": [...], "disliked": [...], "k": n}."""
    data = parse_json_object(body, {"liked", "disliked", "k"})
    liked = id_list(data.get("liked"), "liked", recommendations.MAX_READER_IDS)
    disliked = id_list(data.get("disliked"), "disliked", recommendations.MAX_READER_IDS)
    k = k_param(data.get("k"))
    if not liked and not disliked:
        raise BadRequest("name at least one book in liked or disliked")
    both = recommendations.both_liked_and_disliked(liked, disliked)
    if both:
        raise BadRequest(f"ids both liked and disliked: {both}")
    missing = recommendations.missing_books(liked + disliked)
    if missing:
        raise UnknownBooks(missing)
    results = recommendations.recommend(liked, disliked, k)
    return {"liked": liked, "disliked": disliked, "results": as_json(results)}
