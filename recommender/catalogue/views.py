from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from recommender.catalogue.models import Book
from recommender.front.pages import book_page

BOOKS_PER_PAGE = 50


def list_books(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    books = Book.objects.search(query) if query else Book.objects.all()
    page = Paginator(books.only("id", "title", "author", "genre", "published"), BOOKS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    return render(request, "catalogue/book_list.html", {"page": page, "query": query})


def show_book(request: HttpRequest, book_id: int) -> HttpResponse:
    """The book with its cover, infobox, links and the similar books (recommender.front.pages.book_page)."""
    book = get_object_or_404(Book, pk=book_id)
    return render(request, "catalogue/book_detail.html", book_page(book))
