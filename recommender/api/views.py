"""The JSON API. Thin views: parameters in, recommender.api.answers (shared with the WSGI fast path) and the catalogue
out."""

from collections.abc import Callable
from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from recommender import recommendations, widget
from recommender.api import answers
from recommender.api.caching import cached_per_version
from recommender.api.decorators import allow, error, json_api
from recommender.api.params import MAX_ID, BadRequest, int_param
from recommender.catalogue.models import Book, Link
from recommender.fold_ins import vector_state

MAX_LIMIT = 50
SCHEMA = Path(__file__).with_name("openapi.json")


def _get(model: type[Book] | type[Link], pk: int) -> Book | Link:
    found = model.objects.filter(pk=pk).first() if pk <= MAX_ID else None
    if found is None:
        raise Http404(f"no {model.__name__.lower()} with id {pk}")
    return found


def _query(request: HttpRequest) -> str:
    query = request.GET.get("q", "").strip()
    if not query:
        raise BadRequest("q is required: the text to search for")
    if len(query) > 200:
        raise BadRequest("q is longer than 200 characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in query):  # NUL, escapes: never in a title
        raise BadRequest("q holds control characters")
    return query


def _search(request: HttpRequest, model: type[Book] | type[Link]) -> JsonResponse:
    limit = int_param(request.GET.get("limit"), "limit", 10, 1, MAX_LIMIT)
    found = model.objects.ranked_search(_query(request))[:limit]
    return JsonResponse({"results": [item.to_dict() for item in found]})


@allow("GET", "HEAD")
@json_api
def search_books(request: HttpRequest) -> JsonResponse:
    return _search(request, Book)


@allow("GET", "HEAD")
@json_api
def show_book(request: HttpRequest, book_id: int) -> JsonResponse:
    book = _get(Book, book_id)
    links = [link.to_dict() for link in book.links.order_by("-book_count", "name")]
    vector = vector_state(book).to_json()  # trained, folded in, pending (a fold-in is queued) or none
    return JsonResponse({**book.to_dict(), "infobox": dict(book.infobox_fields()), "links": links, "vector": vector})


@allow("GET", "HEAD")
@json_api
def search_links(request: HttpRequest) -> JsonResponse:
    return _search(request, Link)


def nearest_view(kind: str, describe: Callable[[int], dict | None], find: Callable) -> Callable:
    """A GET view: a book or link (the one id in the URL) and what is nearest to it, cached per model version."""

    @allow("GET", "HEAD")
    @cached_per_version
    @json_api
    def view(request: HttpRequest, **url_ids: int) -> JsonResponse:
        (pk,) = url_ids.values()
        return answers.response(answers.nearest(kind, describe, find, pk, request.GET.get("k")))

    view.__name__ = view.__qualname__ = find.__name__
    return view


similar_books = nearest_view("book", recommendations.book_dict, recommendations.similar_books)
similar_links = nearest_view("link", recommendations.link_dict, recommendations.similar_links)
books_for_link = nearest_view("link", recommendations.link_dict, recommendations.books_for_link)


@csrf_exempt  # changes nothing and needs no login: any client may post JSON without a CSRF token
@allow("POST")
@json_api
def recommend(request: HttpRequest) -> JsonResponse:
    return answers.response(answers.recommend(request.body))


@allow("GET", "HEAD")
def schema(request: HttpRequest) -> HttpResponse:
    return HttpResponse(SCHEMA.read_bytes(), content_type="application/json")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error(f"no API endpoint at {request.path}", 404)


@allow("GET", "HEAD")
@json_api
def widget_settings(request: HttpRequest) -> JsonResponse:
    """The limits static/widget.js applies to data-k, so that the script holds no copy of them."""
    return JsonResponse(widget.to_dict())
