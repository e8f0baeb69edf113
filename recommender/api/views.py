"""The JSON API. Thin views: parameters in, recommender.recommendations and the catalogue out."""

from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from recommender import recommendations
from recommender.api.caching import cached_per_version
from recommender.api.errors import (
    BadRequest,
    allow,
    error,
    id_list,
    int_param,
    json_api,
    parse_json_object,
)
from recommender.catalogue.models import Book, Link

MAX_K = 100
MAX_LIMIT = 50
MAX_IDS = 50
SCHEMA = Path(__file__).with_name("openapi.json")


def _book(book_id: int) -> Book:
    book = Book.objects.filter(pk=book_id).first()
    if book is None:
        raise Http404(f"no book with id {book_id}")
    return book


def _link(link_id: int) -> Link:
    link = Link.objects.filter(pk=link_id).first()
    if link is None:
        raise Http404(f"no link with id {link_id}")
    return link


def _k(request: HttpRequest) -> int:
    return int_param(request.GET.get("k"), "k", 10, 1, MAX_K)


def _query(request: HttpRequest) -> str:
    query = request.GET.get("q", "").strip()
    if not query:
        raise BadRequest("q is required: the text to search for")
    if len(query) > 200:
        raise BadRequest("q is longer than 200 characters")
    return query


@allow("GET", "HEAD")
@json_api
def search_books(request: HttpRequest) -> JsonResponse:
    limit = int_param(request.GET.get("limit"), "limit", 10, 1, MAX_LIMIT)
    books = Book.objects.ranked_search(_query(request))[:limit]
    return JsonResponse({"results": [book.to_dict() for book in books]})


@allow("GET", "HEAD")
@json_api
def show_book(request: HttpRequest, book_id: int) -> JsonResponse:
    book = _book(book_id)
    links = [link.to_dict() for link in book.links.order_by("-book_count", "name")]
    return JsonResponse({**book.to_dict(), "infobox": dict(book.infobox_fields()), "links": links})


@allow("GET", "HEAD")
@cached_per_version
@json_api
def similar_books(request: HttpRequest, book_id: int) -> JsonResponse:
    k = _k(request)
    book = _book(book_id)
    return JsonResponse({"book": book.to_dict(), "results": recommendations.similar_books(book, k)})


@allow("GET", "HEAD")
@json_api
def search_links(request: HttpRequest) -> JsonResponse:
    limit = int_param(request.GET.get("limit"), "limit", 10, 1, MAX_LIMIT)
    links = Link.objects.ranked_search(_query(request))[:limit]
    return JsonResponse({"results": [link.to_dict() for link in links]})


@allow("GET", "HEAD")
@cached_per_version
@json_api
def similar_links(request: HttpRequest, link_id: int) -> JsonResponse:
    k = _k(request)
    link = _link(link_id)
    return JsonResponse({"link": link.to_dict(), "results": recommendations.similar_links(link, k)})


@allow("GET", "HEAD")
@cached_per_version
@json_api
def books_for_link(request: HttpRequest, link_id: int) -> JsonResponse:
    k = _k(request)
    link = _link(link_id)
    return JsonResponse({"link": link.to_dict(), "results": recommendations.books_for_link(link, k)})


@csrf_exempt  # changes nothing and needs no login: any client may post JSON without a CSRF token
@allow("POST")
@json_api
def recommend(request: HttpRequest) -> JsonResponse:
    data = parse_json_object(request.body, {"liked", "disliked", "k"})
    liked = id_list(data.get("liked"), "liked", MAX_IDS)
    disliked = id_list(data.get("disliked"), "disliked", MAX_IDS)
    k = int_param(data.get("k"), "k", 10, 1, MAX_K)
    if not liked and not disliked:
        raise BadRequest("name at least one book in liked or disliked")
    both = sorted(set(liked) & set(disliked))
    if both:
        raise BadRequest(f"ids both liked and disliked: {both}")
    known = set(Book.objects.filter(pk__in=liked + disliked).values_list("pk", flat=True))
    missing = [i for i in liked + disliked if i not in known]
    if missing:
        return error(f"unknown book ids: {missing}", 404, ids=missing)
    results = recommendations.recommend(liked, disliked, k)
    return JsonResponse({"liked": liked, "disliked": disliked, "results": results})


@allow("GET", "HEAD")
def schema(request: HttpRequest) -> HttpResponse:
    return HttpResponse(SCHEMA.read_bytes(), content_type="application/json")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error(f"no API endpoint at {request.path}", 404)
