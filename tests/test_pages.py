"""The reader-facing pages over the real sample with a small trained model, their empty states and covers."""

import datetime
import re
from pathlib import Path

import pytest
from django.utils.html import escape

from recommender.catalogue import covers
from recommender.catalogue.models import Book, Link
from recommender.front import pages
from recommender.widget import WIDGET_MAX_K

pytestmark = pytest.mark.django_db

TRAIN_HINT = "python manage.py train --wait"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def trained(trained_catalogue, db):
    return trained_catalogue


def well_linked_book() -> Book:
    return Book.objects.get(pk=pages.well_linked_ids()[0])


def test_home_has_search_and_entry_points(client, trained):
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    assert 'role="combobox"' in html and 'aria-controls="home-q-list"' in html and 'role="listbox"' in html
    assert 'data-api="/api/books/"' in html and "/static/js/autocomplete.js" in html
    tiles = response.context["entry_points"]
    assert len(tiles) == 6
    for tile in tiles:
        assert f'href="/books/{tile.id}/"' in html
    assert response.context["popular_links"] and "/links/" in html
    assert TRAIN_HINT not in html
    assert response["X-Frame-Options"] == "DENY"


def test_entry_points_are_well_linked_and_change_by_day(trained):
    pool = set(pages.well_linked_ids())
    monday = [card.id for card in pages.entry_points(day=datetime.date(2025, 3, 3))]
    assert monday == [card.id for card in pages.entry_points(day=datetime.date(2025, 3, 3))]
    assert set(monday) <= pool
    week = {tuple(card.id for card in pages.entry_points(day=datetime.date(2025, 3, d))) for d in range(3, 10)}
    assert len(week) > 1


def test_book_page_shows_similar_books_with_bars_and_shared_links(client, trained):
    book = well_linked_book()
    response = client.get(f"/books/{book.pk}/")
    assert response.status_code == 200
    similar = response.context["similar"]
    assert similar.ok and len(similar.results) == 10
    assert book.pk not in [r.id for r in similar.results]
    html = response.text
    own_links = set(book.links.values_list("id", "name"))
    explained = [r for r in similar.results if r.shared_links]
    assert explained, "some similar book shares a link with the book"
    for result in similar.results:
        assert f'href="/books/{result.id}/"' in html
        assert f'style="width: {result.percent}%"' in html
        assert 0 <= result.percent <= 100
        assert set(result.shared_links) <= own_links
    for link_id, name in explained[0].shared_links:
        assert f'href="/links/{link_id}/">{escape(name)}</a>' in html
    assert html.count('class="bar"') == 10
    sims = [r.similarity for r in similar.results]
    assert sims == sorted(sims, reverse=True)


def test_book_page_lists_links_to_link_pages_and_wikipedia(client, trained):
    book = well_linked_book()
    html = client.get(f"/books/{book.pk}/").text
    for link in book.links.all()[:20]:
        assert f'href="/links/{link.pk}/"' in html
    assert f'href="{book.wikipedia_url}"' in html
    assert f'href="/for-me/?like={book.pk}"' in html


def test_book_without_vector_says_so(client, trained):
    book = Book.objects.create(title="A Book Added After Training", author="Nobody")
    response = client.get(f"/books/{book.pk}/")
    assert response.status_code == 200
    assert response.context["similar"].problem == pages.NO_VECTOR
    assert "has no vector in the active model" in response.text


def test_link_page_shows_nearest_books_and_similar_links(client, trained):
    link = Link.objects.order_by("-book_count").first()
    response = client.get(f"/links/{link.pk}/")
    assert response.status_code == 200
    context = response.context
    assert context["nearest_books"].ok and context["nearest_books"].results
    assert context["similar_links"].ok and context["similar_links"].results
    assert link.pk not in [r["id"] for r in context["similar_links"].results]
    html = response.text
    assert link.name in html and f"{link.book_count} books" in html
    for result in context["similar_links"].results:
        assert f'href="/links/{result["id"]}/"' in html
    for book in context["members"]:
        assert f'href="/books/{book.pk}/"' in html


def test_for_me_reads_ids_from_the_url(client, trained):
    liked = pages.well_linked_ids()[:2]
    disliked = pages.well_linked_ids()[5]
    response = client.get(f"/for-me/?like={liked[0]},{liked[1]}&dislike={disliked}")
    assert response.status_code == 200
    context = response.context
    assert [card["id"] for card in context["liked"]] == liked
    assert [card["id"] for card in context["disliked"]] == [disliked]
    results = context["recommendations"].results
    assert len(results) == 12
    assert not {r.id for r in results} & {*liked, disliked}
    share = f"/for-me/?like={liked[0]},{liked[1]}&amp;dislike={disliked}"
    assert share in response.text
    # each chip removes its book from the URL
    assert f'href="/for-me/?like={liked[1]}&amp;dislike={disliked}"' in response.text


def test_for_me_tolerates_junk_unknown_and_vectorless_ids(client, trained):
    book = well_linked_book()
    extra = Book.objects.create(title="Not In The Model")
    response = client.get(f"/for-me/?like={book.pk},x,,{book.pk},999999,{extra.pk}&dislike={book.pk}")
    assert response.status_code == 200
    context = response.context
    assert [card["id"] for card in context["liked"]] == [book.pk, extra.pk]
    assert context["disliked"] == []  # a book cannot be both
    assert context["unknown_ids"] == [999999]
    assert [b.pk for b in context["without_vector"]] == [extra.pk]
    assert context["recommendations"].results
    assert "no vector, left out" in response.text


def test_for_me_without_js_search_adds_books_by_links(client, trained):
    book = Book.objects.get(title="Watership Down")
    response = client.get("/for-me/?q=watership")
    assert response.status_code == 200
    assert f'href="/for-me/?like={book.pk}"' in response.text
    assert f'href="/for-me/?dislike={book.pk}"' in response.text
    assert "Add a book you liked to get recommendations" in response.text


def test_parse_ids():
    assert pages.parse_ids("3, 1,x,3,,2") == [3, 1, 2]
    assert pages.parse_ids(["1,2", "2,4"]) == [1, 2, 4]
    assert pages.parse_ids(None) == []
    assert len(pages.parse_ids(",".join(map(str, range(1, 200))))) == pages.MAX_READER_IDS


def test_widget_book_page_over_the_model(client, trained):
    book = well_linked_book()
    response = client.get(f"/widget/books/{book.pk}/?k=3")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    html = response.text
    assert html.count('class="rw-card"') == 3
    assert "/static/css/widget.css" in html and 'target="_blank"' in html
    assert len(client.get(f"/widget/books/{book.pk}/?k=500").context["similar"].results) == WIDGET_MAX_K
    assert len(client.get(f"/widget/books/{book.pk}/?k=abc").context["similar"].results) == 5


def test_x_frame_options(client, trained):
    book = well_linked_book()
    link = Link.objects.order_by("-book_count").first()
    for path in ["/", f"/books/{book.pk}/", f"/links/{link.pk}/", "/for-me/", "/widget/", "/books/"]:
        assert client.get(path)["X-Frame-Options"] == "DENY", path
    for path in [f"/widget/books/{book.pk}/", "/widget/books/999999/"]:
        assert "X-Frame-Options" not in client.get(path), path


def test_404s(client, trained):
    assert client.get("/books/999999/").status_code == 404
    assert client.get("/links/999999/").status_code == 404
    missing = client.get("/widget/books/999999/")
    assert missing.status_code == 404 and "No such book" in missing.text
    page = client.get("/no/such/page/")
    assert page.status_code == 404 and "Page not found" in page.text
    assert client.post("/").status_code == 405


def test_pages_without_a_model_say_how_to_train(client, trained, artifacts_dir):
    book = well_linked_book()
    link = Link.objects.order_by("-book_count").first()
    assert not pages.model_ready()
    for path in ["/", f"/books/{book.pk}/", f"/links/{link.pk}/", f"/for-me/?like={book.pk}", "/for-me/"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "No model has been trained yet" in response.text, path
        assert TRAIN_HINT in response.text, path
    assert pages.book_page(book)["similar"].problem == pages.NO_MODEL
    widget = client.get(f"/widget/books/{book.pk}/")
    assert widget.status_code == 200 and "no trained model" in widget.text


# Covers -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (
            "File:The Cambridge Dictionary of Philosophy (first edition).jpg",
            "The Cambridge Dictionary of Philosophy (first edition).jpg",
        ),
        ("Image:Mybrotherjack 1.jpg", "Mybrotherjack 1.jpg"),
        ("Pomes Penyeach.jpg", "Pomes Penyeach.jpg"),
        ("Swastika night.gif < !--prefer 1st edition-- >", "Swastika night.gif"),
        ("< !-- prefer 1st edition cover -- >  Barnstormer in Oz.jpg", "Barnstormer in Oz.jpg"),
        (
            "[[File:Dune-Frank Herbert (1965) First edition.jpg|200px|First edition]]",
            "Dune-Frank Herbert (1965) First edition.jpg",
        ),
        ("< !--prefer 1st edition-- >", ""),
        ("< !-- Deleted image removed: 150px|Warlords of Utopia Cover -- >", ""),
        ("200px", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_image_file_name(value, name):
    assert covers.image_file_name(value) == name


def test_cover_url():
    url = covers.cover_url("", {"image": "File:The Last Templar.JPG <!--prefer 1st edition-->"})
    assert url == "https://en.wikipedia.org/wiki/Special:FilePath/The_Last_Templar.JPG?width=300"
    assert covers.cover_url("", {"image": "Paul Davies - About Time Einstein's Unfinished Revolution.jpeg"}).endswith(
        "/Special:FilePath/Paul_Davies_-_About_Time_Einstein%27s_Unfinished_Revolution.jpeg?width=300"
    )
    goodreads = "https://images.gr-assets.com/books/1447303603m/2767052.jpg"
    assert covers.cover_url(goodreads, {"image": "x.jpg"}) == goodreads
    assert covers.cover_url("https://s.gr-assets.com/assets/nophoto/book/111x148.png", {}) == ""
    assert covers.cover_url("", {}) == covers.cover_url("", None) == ""
    assert covers.initials("The Hobbit") == "TH" and covers.initials("1984") == "1" and covers.initials("") == "?"


def test_book_page_cover_and_placeholder(client, trained):
    with_image = Book.objects.get(title="The Cambridge Dictionary of Philosophy")
    html = client.get(f"/books/{with_image.pk}/").text
    head = html.split('class="book-head"', 1)[1].split("</h1>", 1)[0]
    src = "https://en.wikipedia.org/wiki/Special:FilePath/The_Cambridge_Dictionary_of_Philosophy_(first_edition).jpg?width=300"
    assert f'<img src="{src}"' in head
    assert " data-cover>" in head and "onerror" not in head and 'class="cover-placeholder"' in head and ">TC<" in head

    plain = Book.objects.create(title="No Picture Here", infobox={"image": "<!--prefer 1st edition-->"})
    head = client.get(f"/books/{plain.pk}/").text.split('class="book-head"', 1)[1].split("</h1>", 1)[0]
    assert "<img" not in head and 'class="cover-placeholder"' in head and ">NP<" in head


def test_placeholder_keeps_the_cover_box_size():
    text = (ROOT / "static" / "css" / "site.css").read_text()
    assert re.search(r"\.cover \{[^}]*aspect-ratio: 2 / 3", text)
    assert re.search(r"\.cover img \{[^}]*position: absolute", text)
