from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from recommender.catalogue.models import Book

BOOKS_PER_PAGE = 50


def list_books(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    books = Book.objects.search(query) if query else Book.objects.all()
    page = Paginator(books.only("id", "title", "author", "genre", "published"), BOOKS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "catalogue/book_list.html", {"page": page, "query": query})


def show_book(request: HttpRequest, book_id: int) -> HttpResponse:
    book = get_object_or_404(Book, pk=book_id)
    links = book.links.order_by("-book_count", "name")
    return render(request, "catalogue/book_detail.html", {"book": book, "links": links})
