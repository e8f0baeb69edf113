"""Import files that are not UTF-8, cut short (a JSON line cut in half, a gzip or bz2 stream that ends early, a TSV
or CSV whose last row stops mid-way) or corrupt: the command fails with `file:line: reason` and the catalogue stays
exactly as it was. Whole compressed files import like plain ones."""

import bz2
import gzip
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from recommender.catalogue.models import Book, BookLink, Link

pytestmark = pytest.mark.django_db

INFO_HEADER = "title\tauthor\tgenre\tpages\tlanguage\tcountry\tpublisher\n"
GAMMA_ROW = b"Gamma\tA. Writer\tnovel\t100\ten\tUK\tPub\n"


def line(title: str, links: list[str], **infobox) -> str:
    return json.dumps([title, infobox, links, [], "2018-01-01T00:00:00Z", 100]) + "\n"


def ndjson(*titles: str) -> str:
    return "".join(line(title, ["space", f"link of {title.lower()}"], author=f"Author of {title}") for title in titles)


def snapshot() -> tuple:
    books = sorted(Book.objects.values_list("title", "author", "genre", "has_links"))
    links = sorted(Link.objects.values_list("name", "book_count"))
    pairs = sorted(BookLink.objects.values_list("book__title", "link__name", "weight"))
    return books, links, pairs


@pytest.fixture
def catalogue(tmp_path) -> tuple:
    """A small catalogue already imported: a faulty import must leave it exactly so."""
    good = tmp_path / "good.ndjson"
    good.write_text(ndjson("Alpha", "Beta"))
    call_command("import_books", str(good), stdout=io.StringIO(), stderr=io.StringIO())
    before = snapshot()
    assert len(before[0]) == 2
    return before


def refused(command: str, *args: object) -> str:
    with pytest.raises(CommandError) as error:
        call_command(command, *map(str, args), stdout=io.StringIO(), stderr=io.StringIO())
    return str(error.value)


# Each file changes Alpha's author and adds Gamma before its fault, so a partial write would show.
CHANGED = ndjson("Gamma") + line("Alpha", ["space"], author="Someone else")


def test_bytes_that_are_not_utf8(tmp_path, catalogue):
    path = tmp_path / "latin1.ndjson"
    path.write_bytes(CHANGED.encode() + '["Café au lait", {}, ["coffee"], [], "", 1]\n'.encode("latin-1"))
    message = refused("import_books", path)
    assert message.startswith(f"{path}:3: not UTF-8 text (byte 0xe9 at column 6)")
    assert "nothing was imported" in message
    assert snapshot() == catalogue


def test_a_json_line_cut_in_half(tmp_path, catalogue):
    path = tmp_path / "cut.ndjson"
    whole = CHANGED + line("Delta", ["space"])
    path.write_text(whole[: len(whole) - 25])  # the last line loses its end and its line break
    message = refused("import_books", path)
    assert message.startswith(f"{path}:3: the file ends in the middle of this line (cut short?)")
    assert snapshot() == catalogue


def test_a_bad_line_with_its_line_break_is_still_only_skipped(tmp_path, catalogue):
    path = tmp_path / "bad-line.ndjson"
    path.write_text(ndjson("Gamma") + '["Broken", {}, [\n' + ndjson("Delta"))
    err = io.StringIO()
    call_command("import_books", str(path), stdout=io.StringIO(), stderr=err)
    assert "bad-line.ndjson:2: not valid JSON" in err.getvalue()
    assert Book.objects.filter(title__in=["Gamma", "Delta"]).count() == 2


def test_nul_characters_are_a_bad_line_not_a_database_error(tmp_path, catalogue):
    path = tmp_path / "nul.ndjson"
    path.write_text(line("Nul\u0000Title", ["space"]) + line("Gamma", ["space\u0000x"]) + ndjson("Delta"))
    err = io.StringIO()
    call_command("import_books", str(path), stdout=io.StringIO(), stderr=err)
    assert "nul.ndjson:1: holds a NUL character" in err.getvalue()
    assert "nul.ndjson:2: holds a NUL character" in err.getvalue()
    assert Book.objects.filter(title="Delta").exists() and not Book.objects.filter(title="Gamma").exists()


@pytest.mark.parametrize("suffix, opener", [(".gz", gzip.open), (".bz2", bz2.open)])
def test_compressed_files_import_and_when_cut_short_change_nothing(tmp_path, catalogue, suffix, opener):
    whole = tmp_path / f"whole.ndjson{suffix}"
    body = "".join(ndjson(f"Book {i}") for i in range(300)).encode()
    with opener(whole, "wb") as out:
        out.write(CHANGED.encode() + body)
    cut = tmp_path / f"cut.ndjson{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    message = refused("import_books", cut)
    kind = "gzip" if suffix == ".gz" else "bz2"
    assert message.startswith(f"{cut}:"), message
    assert f"the {kind} file is cut short: it ends before its end-of-stream marker" in message
    assert int(message.split(":")[1]) > (1 if kind == "gzip" else 0)  # gzip streams: the line where it ended
    assert snapshot() == catalogue

    garbage = tmp_path / f"garbage.ndjson{suffix}"
    garbage.write_bytes(b"this is not compressed at all\n" * 10)
    assert f"{garbage}:1: the {kind} file is corrupt" in refused("import_books", garbage)
    assert snapshot() == catalogue

    call_command("import_books", str(whole), stdout=io.StringIO(), stderr=io.StringIO())  # whole: imported
    assert Book.objects.get(title="Alpha").author == "Someone else"
    assert Book.objects.filter(title__startswith="Book ").count() == 300


def test_a_directory_takes_compressed_partitions_too(tmp_path, db):
    folder = tmp_path / "parts"
    folder.mkdir()
    (folder / "a.ndjson").write_text(ndjson("One"))
    with gzip.open(folder / "b.ndjson.gz", "wt", encoding="utf-8") as out:
        out.write(ndjson("Two"))
    with bz2.open(folder / "c.ndjson.bz2", "wt", encoding="utf-8") as out:
        out.write(ndjson("Three"))
    call_command("import_books", str(folder), stdout=io.StringIO(), stderr=io.StringIO())
    assert set(Book.objects.values_list("title", flat=True)) == {"One", "Two", "Three"}


def write_info(path: Path, body: bytes) -> Path:
    path.write_bytes(INFO_HEADER.encode() + body)
    return path


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (GAMMA_ROW + b"Beta\t\xff\xfe\t\t\t\t\t\n", "not UTF-8 text (byte 0xff at column 6)"),
        (GAMMA_ROW + b"Beta\tB. Wri", "the file ends in the middle of this line (cut short?)"),
        (b"Gamma\tA. Writer\tnovel\t100\ten\tUK\tPub\nBe\x00ta\t\t\t\t\t\t\n", "holds a NUL byte"),
    ],
    ids=["bad-bytes", "cut-short", "nul-byte"],
)
def test_bad_book_info_tsv(tmp_path, catalogue, body: bytes, reason: str):
    data = tmp_path / "books.ndjson"
    data.write_text(CHANGED)
    info = write_info(tmp_path / "book_info.tsv", body)
    message = refused("import_books", data, "--info", info)
    assert message.startswith(f"{info}:3: {reason}")
    assert snapshot() == catalogue


BOOKS_CSV = (
    "goodreads_book_id,authors,title,average_rating,image_url,original_publication_year\n"
    "1,Ann Author,First Book,4.1,https://images.gr-assets.com/books/1/1.jpg,1999\n"
    "2,Bob Author,Second Book,3.9,https://images.gr-assets.com/books/2/2.jpg,2001\n"
)
TAGS_CSV = "tag_id,tag_name\n10,fantasy\n11,to-read\n12,history\n"
BOOK_TAGS_CSV = "goodreads_book_id,tag_id,count\n1,10,50\n1,11,99\n2,12,7\n2,10,3\n"


def goodbooks(folder: Path, books: bytes, tags: bytes, book_tags: bytes) -> Path:
    folder.mkdir()
    (folder / "books.csv").write_bytes(books)
    (folder / "tags.csv").write_bytes(tags)
    (folder / "book_tags.csv").write_bytes(book_tags)
    return folder


@pytest.fixture
def goodbooks_catalogue(tmp_path, db) -> tuple:
    folder = goodbooks(tmp_path / "good", BOOKS_CSV.encode(), TAGS_CSV.encode(), BOOK_TAGS_CSV.encode())
    call_command("import_goodbooks", str(folder), stdout=io.StringIO(), stderr=io.StringIO())
    before = snapshot()
    assert len(before[0]) == 2
    return before


def test_goodbooks_csv_with_bad_bytes(tmp_path, goodbooks_catalogue):
    books = BOOKS_CSV.replace("Ann Author", "Ann Änderung").encode("latin-1")
    folder = goodbooks(tmp_path / "latin1", books, TAGS_CSV.encode(), BOOK_TAGS_CSV.encode())
    message = refused("import_goodbooks", folder)
    assert message.startswith(f"{folder / 'books.csv'}:2: not UTF-8 text (byte 0xc4 at column 7)")
    assert snapshot() == goodbooks_catalogue


def test_goodbooks_csv_cut_short(tmp_path, goodbooks_catalogue):
    changed = BOOKS_CSV.replace("Bob Author", "Robert Author").encode()
    folder = goodbooks(tmp_path / "cut", changed, TAGS_CSV.encode(), BOOK_TAGS_CSV.encode()[:-6])
    message = refused("import_goodbooks", folder)
    assert message.startswith(f"{folder / 'book_tags.csv'}:5: the file ends in the middle of this line")
    assert snapshot() == goodbooks_catalogue


def test_goodbooks_compressed_cut_short(tmp_path, goodbooks_catalogue):
    folder = goodbooks(tmp_path / "gz", BOOKS_CSV.encode(), TAGS_CSV.encode(), BOOK_TAGS_CSV.encode())
    (folder / "book_tags.csv").unlink()
    whole = gzip.compress(("goodreads_book_id,tag_id,count\n" + "1,12,1\n" * 5000).encode())
    (folder / "book_tags.csv.gz").write_bytes(whole[: len(whole) // 2])
    message = refused("import_goodbooks", folder)
    assert message.startswith(f"{folder / 'book_tags.csv.gz'}:") and "the gzip file is cut short" in message
    assert snapshot() == goodbooks_catalogue
