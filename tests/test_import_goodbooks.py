"""import_goodbooks on the real goodbooks-10k files."""

import io

import pytest
from django.core.management import CommandError, call_command

from recommender.catalogue.models import Book, BookLink, Link, Source
from recommender.catalogue.sources import is_shelf_tag
from tests.helpers import GOODBOOKS

pytestmark = pytest.mark.django_db


def run_import(*args) -> str:
    out = io.StringIO()
    call_command("import_goodbooks", *map(str, args), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_shelf_tags():
    for tag in (
        "to-read",
        "currently-reading",
        "favorites",
        "owned",
        "books-i-own",
        "kindle",
        "ebook",
        "library",
        "default",
        "read-in-2015",
        "2014-reads",
        "4-stars",
        "audiobooks",
        "my-favorites",
    ):
        assert is_shelf_tag(tag), tag
    for tag in ("fantasy", "fiction", "young-adult", "classics", "historical-fiction", "non-fiction"):
        assert not is_shelf_tag(tag), tag


@pytest.mark.slow
def test_goodbooks_import_and_rerun(db):
    out = run_import(GOODBOOKS)
    assert Book.objects.count() == 10000
    assert Book.objects.filter(has_links=True).count() == 6051
    assert set(Book.objects.values_list("source", flat=True)) == {Source.GOODREADS}
    assert not Link.objects.filter(name__in=["to-read", "favorites", "owned", "kindle"]).exists()
    pairs = BookLink.objects.count()
    assert 300_000 < pairs < 605_093  # shelf and status tags are a good third of the rows
    hunger = Book.objects.get(external_id="2767052")
    assert hunger.title == "The Hunger Games (The Hunger Games, #1)"
    assert hunger.author == "Suzanne Collins" and hunger.published == "2008"
    assert hunger.cover_url.startswith("https://images.gr-assets.com/")
    assert hunger.links.filter(name="dystopia").exists()
    assert BookLink.objects.get(book=hunger, link__name="dystopia").weight > 100
    assert "10000 added" in out

    again = run_import(GOODBOOKS)
    assert "0 added, 0 updated, 10000 unchanged" in again
    assert BookLink.objects.count() == pairs

    with pytest.raises(CommandError, match="one catalogue per database"):
        call_command("import_books", str(GOODBOOKS.parent / "wikipedia"), stdout=io.StringIO())


def test_bad_rows_and_missing_files(db, tmp_path):
    (tmp_path / "books.csv").write_text(
        "book_id,goodreads_book_id,authors,original_publication_year,title,average_rating,image_url\n"
        "1,11,Ann Author,1999.0,First,4.1,https://example.org/1.jpg\n"
        "2,12,Bob Author,nineteen,Second,4.0,\n"
        "3,13,Cy Author,2001.0,First,3.9,https://s.gr-assets.com/assets/nophoto/book/111x148.png\n"
    )
    (tmp_path / "tags.csv").write_text("tag_id,tag_name\n1,Fantasy\n2,to-read\n3,fantasy\n")
    (tmp_path / "book_tags.csv").write_text("goodreads_book_id,tag_id,count\n11,1,5\n11,2,50\n11,3,2\n13,1,x\n13,1,4\n")
    err = io.StringIO()
    call_command("import_goodbooks", str(tmp_path), stdout=io.StringIO(), stderr=err)
    assert "books.csv:3: original_publication_year 'nineteen' is not a year" in err.getvalue()
    assert "book_tags.csv:5: count 'x' is not an integer" in err.getvalue()
    first = Book.objects.get(title="First")
    assert list(first.book_links.values_list("link__name", "weight")) == [("fantasy", 7)]
    twin = Book.objects.get(title="First (Cy Author)")
    assert twin.cover_url == ""
    with pytest.raises(CommandError, match="count 'x' is not an integer.*nothing was written"):
        call_command("import_goodbooks", str(tmp_path), "--strict", "--replace", stdout=io.StringIO())
    (tmp_path / "tags.csv").unlink()
    with pytest.raises(CommandError, match="tags.csv: missing"):
        run_import(tmp_path)
