"""import_books on the real Wikipedia sample and on hand-written bad input."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db.models.functions import Lower

from recommender.catalogue.models import Book, BookLink, Link, Source
from recommender.catalogue.sources import read_book_info
from tests.helpers import SAMPLE_BOOKS, SAMPLE_LINKS, SAMPLE_PAIRS

pytestmark = pytest.mark.django_db


def run_import(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_books", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def line(title: str, links: list[str], **infobox) -> str:
    return json.dumps([title, infobox, links, [], "2018-01-01T00:00:00Z", 100]) + "\n"


def test_sample_counts(sample_catalogue):
    assert Book.objects.count() == SAMPLE_BOOKS
    assert Link.objects.count() == SAMPLE_LINKS
    assert BookLink.objects.count() == SAMPLE_PAIRS
    assert not Book.objects.filter(title__startswith="Wikipedia:").exists()
    shelf = ["hardcover", "paperback", "hardback", "e-book", "wikipedia:wikiproject books"]
    assert not Link.objects.filter(name__in=shelf).exists()
    assert not Link.objects.exclude(name=Lower("name")).exists()
    # link counts match the pairs
    top = Link.objects.order_by("-book_count").first()
    assert top.book_count == BookLink.objects.filter(link=top).count() > 100


def test_infobox_fields_and_book_info_merge(sample_catalogue):
    barber = Book.objects.get(title="The Wealthy Barber")
    assert barber.author == "David Chilton"  # infobox wins over the TSV's lower-cased value
    assert barber.genre == "Personal finance"
    assert barber.published == "1989"
    assert barber.imported_from == "p15_books.ndjson:2"
    assert barber.infobox["isbn"] == "0-7737-5318-4"
    assert barber.wikipedia_url == "https://en.wikipedia.org/wiki/The_Wealthy_Barber"
    # a book whose infobox has no author gets the TSV's
    filled = Book.objects.filter(infobox__author__isnull=True).exclude(author="")
    assert filled.exists()


def test_files_globs_and_directories(db, wikipedia_dir):
    run_import(wikipedia_dir / "p15_books.ndjson")
    assert Book.objects.count() == 1411
    run_import(f"{wikipedia_dir}/p15_*_2023.ndjson")
    assert Book.objects.count() == SAMPLE_BOOKS


def test_rerun_is_idempotent(sample_catalogue, wikipedia_dir):
    out, _ = run_import(wikipedia_dir)
    assert "books: 0 added, 0 updated, 1780 unchanged" in out
    assert "pairs: 0 added, 0 updated, 0 removed" in out
    assert (Book.objects.count(), BookLink.objects.count()) == (SAMPLE_BOOKS, SAMPLE_PAIRS)


def test_include_unlinked_adds_the_tsv_books(db, wikipedia_dir):
    run_import(wikipedia_dir, "--include-unlinked")
    tsv_titles = {title for title, _ in read_book_info(wikipedia_dir / "book_info.tsv")}
    assert len(tsv_titles) == 37020
    linked_in_tsv = Book.objects.filter(has_links=True, title__in=tsv_titles).count()
    assert linked_in_tsv > 1700  # the newer partition has a few titles the 2018 list lacks
    assert Book.objects.filter(has_links=False).count() == 37020 - linked_in_tsv
    assert Book.objects.count() == 37020 + SAMPLE_BOOKS - linked_in_tsv
    # running it again, or a partition again, never strips a linked book of its links
    run_import(wikipedia_dir / "p15_books.ndjson", "--info", wikipedia_dir / "book_info.tsv", "--include-unlinked")
    assert BookLink.objects.count() == SAMPLE_PAIRS
    assert Book.objects.filter(has_links=True).count() == SAMPLE_BOOKS


def test_bad_lines_are_reported_and_skipped(db, tmp_path):
    data = tmp_path / "part.ndjson"
    data.write_text(
        line("Good Book", ["Fantasy", "Hardcover", "fantasy", "Tolkien"], author="[[J. R. R. Tolkien|Tolkien]]")
        + "{not json\n"
        + json.dumps(["No links", {}, "oops"])
        + "\n"
        + line("Wikipedia:WikiProject Books", ["x"])
        + line("Other Book", ["Fantasy"])
    )
    out, err = run_import(data)
    assert "part.ndjson:2: not valid JSON" in err
    assert "part.ndjson:3: wikilinks is not a list of strings" in err
    assert "bad lines: 2" in out
    good = Book.objects.get(title="Good Book")
    assert good.author == "Tolkien"
    assert sorted(good.links.values_list("name", flat=True)) == ["fantasy", "tolkien"]
    assert Book.objects.count() == 2


def test_strict_aborts_with_nothing_written(db, tmp_path):
    data = tmp_path / "part.ndjson"
    data.write_text(line("Good Book", ["Fantasy"]) + "[1, 2\n")
    with pytest.raises(CommandError, match=r"part.ndjson:2: not valid JSON.*nothing was written"):
        run_import(data, "--strict")
    assert not Book.objects.exists() and not Link.objects.exists()


def test_reimport_updates_changed_books(db, tmp_path):
    data = tmp_path / "part.ndjson"
    data.write_text(line("A Book", ["Fantasy", "Dragons"], genre="Fantasy"))
    run_import(data)
    data.write_text(line("A Book", ["Fantasy", "Elves"], genre="High fantasy"))
    out, _ = run_import(data)
    assert "1 updated" in out and "pairs: 1 added, 0 updated, 1 removed" in out
    book = Book.objects.get()
    assert book.genre == "High fantasy"
    assert sorted(book.links.values_list("name", flat=True)) == ["elves", "fantasy"]
    assert not Link.objects.filter(name="dragons").exists()  # no book uses it any more


def test_missing_path_is_a_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run_import(tmp_path / "nothing-*.ndjson")


def test_refuses_a_second_source_without_replace(db, tmp_path):
    Book.objects.create(title="Goodreads book", source=Source.GOODREADS)
    data = tmp_path / "part.ndjson"
    data.write_text(line("A Book", ["Fantasy"]))
    with pytest.raises(CommandError, match="one catalogue per database.*--replace"):
        run_import(data)
    assert Book.objects.get().title == "Goodreads book"
    run_import(data, "--replace")
    assert list(Book.objects.values_list("title", "source")) == [("A Book", Source.WIKIPEDIA)]
