"""The book list (search, pagination) and the book page over the real sample."""

import pytest

from recommender.catalogue.models import Book

pytestmark = pytest.mark.django_db


def test_list_paginates(client, sample_catalogue):
    response = client.get("/books/")
    assert response.status_code == 200
    assert "1780 books" in response.text
    assert response.context["page"].paginator.num_pages == 36
    last = client.get("/books/?page=36")
    assert len(last.context["page"].object_list) == 30
    assert client.get("/books/?page=999").context["page"].number == 36


def test_search_ignores_case_and_accents(client, sample_catalogue):
    titles = [b.title for b in client.get("/books/?q=balzac").context["page"].object_list]
    assert "Colonel Chabert (novel)" in titles  # author "Honoré de Balzac"
    titles = [b.title for b in client.get("/books/?q=ENCYCLOPEDIE").context["page"].object_list]
    assert titles == ["Encyclopédie"]
    titles = [b.title for b in client.get("/books/?q=heinlein stranger").context["page"].object_list]
    assert any("Stranger" in t for t in titles)
    assert "No book matches" in client.get("/books/?q=zzzxxyy").text


def test_book_page(client, sample_catalogue):
    book = Book.objects.get(title="The Wealthy Barber")
    response = client.get(f"/books/{book.id}/")
    assert response.status_code == 200
    html = response.text
    assert "David Chilton" in html and "Personal finance" in html
    assert 'href="https://en.wikipedia.org/wiki/The_Wealthy_Barber"' in html
    assert "financial planning" in html  # one of its links


def test_unknown_book_is_404(client, db):
    assert client.get("/books/999999/").status_code == 404
