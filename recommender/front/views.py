"""Thin views for the reader-facing pages: parameters in, recommender.front.pages out, a template rendered."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from recommender import widget
from recommender.catalogue.models import Book, Link
from recommender.content_security import embeddable
from recommender.front import pages


@require_safe
def show_home(request: HttpRequest) -> HttpResponse:
    return render(request, "front/home.html", pages.home_page())


@require_safe
def show_link(request: HttpRequest, link_id: int) -> HttpResponse:
    link = get_object_or_404(Link, pk=link_id)
    return render(request, "front/link_detail.html", pages.link_page(link))


@require_safe
def show_for_me(request: HttpRequest) -> HttpResponse:
    liked = pages.parse_ids(request.GET.getlist("like"))
    disliked = pages.parse_ids(request.GET.getlist("dislike"))
    context = pages.for_me_page(liked, disliked, query=request.GET.get("q", "").strip()[:200])
    return render(request, "front/for_me.html", context)


@require_safe
def show_widget_docs(request: HttpRequest) -> HttpResponse:
    book = pages.example_book()
    return render(request, "front/widget_docs.html", {"example": book})


@embeddable
@require_safe
def show_widget_book(request: HttpRequest, book_id: int) -> HttpResponse:
    book = Book.objects.filter(pk=book_id).first()
    context = pages.widget_book_page(book, widget.widget_k(request.GET.get("k")))
    return render(request, "front/widget_book.html", context, status=200 if book else 404)
