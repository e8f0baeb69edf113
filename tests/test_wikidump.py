"""parse_wikipedia_dump on small dumps written from hand-made wikitext: books, what is not a book, damaged
files, re-runs, several processes, the import that follows and the Celery task on the real broker."""

import bz2
import io
import json
import os
import re
import threading
import tracemalloc
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from recommender.catalogue.models import Book, BookLink
from recommender.catalogue.wikidump.books import book_row, may_be_book, raw_marks
from recommender.catalogue.wikidump.export import FOOTER, HEADER, page_xml, write_dump
from recommender.catalogue.wikidump.files import output_path
from recommender.catalogue.wikidump.reader import DumpError, Page, PageStream, iter_pages
from recommender.catalogue.wikidump.streams import SEVEN_ZIP, seven_zip

STAMP = "2026-10-01T12:00:00Z"

HOBBIT = """{{Short description|1937 novel}}
{{Infobox book| <!-- See [[Wikipedia:WikiProject Novels]] -->
| name = The Hobbit
| author = {{Plainlist|
* [[J. R. R. Tolkien]]
}}
| country = United Kingdom <!-- first edition -->
| genre = [[Children's fantasy|Fantasy]]
| isbn = {{ISBN|0-261-10221-4}}
| pages = 310
| media_type = Print ([[Hardcover]])
| oclc =
| isbn_note = <!-- none -->
}}
'''''The Hobbit''''' is set in [[Middle-earth]], see [[Gothic fiction#First parodies|parody]].
[[File:Hobbit map.jpg|thumb|A map drawn by [[Thror]]]]
It was reviewed in [https://example.org/review The Review] and on [[b:The Hobbit|Wikibooks]].
[[Category:1937 novels]]
"""

WRAPPED = """{{Infobox wrapper|embed = yes|child = {{infobox_Book
|name = Война и мир
|author = [[Leo Tolstoy]]
}}}}
'''War and Peace''' by [[Leo Tolstoy]] is about [[Napoleon]] and [[Harper & Brothers]]."""

PAGES = [
    Page("The Hobbit", 0, False, STAMP, HOBBIT),
    Page("Война и мир", 0, False, STAMP, WRAPPED),
    Page("Hobbit", 0, True, STAMP, "#REDIRECT [[The Hobbit]]\n{{Infobox book|name=Redirected}}"),
    Page("Smaug", 0, False, STAMP, "{{Infobox character|name=Smaug}}\n'''Smaug''' is a [[dragon]]."),
    Page("Book design", 0, False, STAMP, "<!-- no Infobox book here -->\nArticles on books use the infobox book."),
    Page("Template:Infobox book/doc", 10, False, STAMP, "{{Infobox book|name=Example}}"),
    Page("Über Bücher", 0, False, STAMP, "{{INFOBOX   BOOK\n|name=Über Bücher\n}}\nOn [[Bücher]]."),
]


@pytest.fixture(params=["libbz2", SEVEN_ZIP])
def decoder(request, settings) -> str:
    """Each bz2 decoder in turn (streams.py): libbz2 in this process, 7-Zip's in a child process."""
    if request.param == SEVEN_ZIP and seven_zip("auto") is None:
        pytest.skip("7-Zip (7zz) is not installed: apt-get install 7zip")
    settings.WIKIDUMP_BZIP2 = request.param
    return request.param


def make_dump(path: Path, pages=PAGES) -> Path:
    return write_dump(path, pages)


def rows_of(path: Path) -> list[list]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def parse(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("parse_wikipedia_dump", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_reader_streams_every_page_with_its_fields(tmp_path):
    dump = make_dump(tmp_path / "enwiki-pages-articles1.xml-p1p7.bz2")
    pages = list(iter_pages(dump))
    assert pages == PAGES  # titles, namespaces, redirects, timestamps and text survive XML escaping


def test_books_are_articles_with_the_template_in_any_spelling(tmp_path):
    dump = make_dump(tmp_path / "enwiki-pages-articles1.xml-p1p7.bz2")
    out = tmp_path / "out"
    stdout, _ = parse(dump, "--out", out)
    target = out / "enwiki-pages-articles1-p1p7.ndjson"
    assert sorted(os.listdir(out)) == [target.name]
    rows = rows_of(target)
    # no redirect, no Template: page, no page that only mentions the words or holds another infobox
    assert [r[0] for r in rows] == ["The Hobbit", "Война и мир", "Über Bücher"]
    assert "3 books of 7 pages (4 parsed)" in stdout
    assert "\\u0412" in target.read_text()  # ASCII escapes, like the original file


def test_row_format_matches_the_original_fields():
    title, infobox, links, external, timestamp, length = book_row(PAGES[0])
    assert title == "The Hobbit"
    assert infobox == {
        "name": "The Hobbit",
        "author": "{{Plainlist|\n* [[J. R. R. Tolkien]]\n}}",  # raw wikitext, nested template intact
        "country": "United Kingdom",  # the editor's comment dropped
        "genre": "[[Children's fantasy|Fantasy]]",
        "isbn": "{{ISBN|0-261-10221-4}}",
        "pages": "310",
        "media_type": "Print ([[Hardcover]])",
    }  # the WikiProject comment, empty `oclc` and comment-only `isbn_note` are left out
    assert links == [  # not the link inside the comment (the original's mangled comments let it through)
        "J. R. R. Tolkien",
        "Children's fantasy",
        "Hardcover",
        "Middle-earth",
        "Gothic fiction#First parodies",
        "File:Hobbit map.jpg",
        "Thror",
        "b:The Hobbit",
        "Category:1937 novels",
    ]
    assert external == ["https://example.org/review"]
    assert timestamp == STAMP
    assert isinstance(length, int) and 0 < length < len(HOBBIT)


def test_rows_have_the_shape_of_the_shared_sample(wikipedia_dir):
    real = json.loads((wikipedia_dir / "p15_books.ndjson").read_text().splitlines()[0])
    ours = book_row(PAGES[0])
    assert [type(v) for v in ours] == [type(v) for v in real]
    assert all(isinstance(v, str) for v in ours[1].values()) and all(isinstance(v, str) for v in ours[2])


def test_nested_infobox_and_entities():
    _, infobox, links, *_ = book_row(PAGES[1])
    assert infobox == {"name": "Война и мир", "author": "[[Leo Tolstoy]]"}
    assert "Harper & Brothers" in links  # decoded once, no `Harper  &  Brothers` as the original's SAX wrote


def test_truncated_bz2_is_a_clear_error_and_writes_nothing(tmp_path, decoder):
    dump = make_dump(tmp_path / "enwiki-pages-articles2.xml-p1p7.bz2", PAGES * 40)
    data = dump.read_bytes()
    dump.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out"
    with pytest.raises(CommandError) as error:
        parse(dump, "--out", out)
    message = str(error.value)
    assert str(dump) in message and "truncated" in message and f"of {len(data) // 2:,}" in message
    assert list(out.iterdir()) == []
    with pytest.raises(DumpError, match="truncated"):
        list(iter_pages(dump))


def test_corrupt_or_foreign_files_are_clear_errors(tmp_path, decoder):
    garbage = tmp_path / "garbage.xml.bz2"
    garbage.write_bytes(b"BZh91AY&SY" + os.urandom(2000))
    not_export = tmp_path / "other.xml.bz2"
    not_export.write_bytes(bz2.compress(b"<html><body>hello</body></html>"))
    out = tmp_path / "out"
    with pytest.raises(CommandError) as error:
        parse(garbage, not_export, "--out", out)
    assert "garbage.xml.bz2: cannot decompress" in str(error.value)
    assert "other.xml.bz2: the root element is <html>" in str(error.value)
    assert list(out.iterdir()) == []
    with pytest.raises(CommandError, match="no such file"):
        parse(tmp_path / "missing.xml.bz2", "--out", out)


def test_rerun_skips_finished_files_and_ignores_leftovers(tmp_path, decoder):
    first = make_dump(tmp_path / "a-pages-articles1.xml-p1p7.bz2")
    out = tmp_path / "out"
    parse(first, "--out", out)
    done = output_path(first, out)
    done.write_text(done.read_text() + "\n")  # a marker: a skipped file is not rewritten
    second = make_dump(tmp_path / "a-pages-articles2.xml-p8p14.bz2", PAGES[:2])
    (out / "a-pages-articles2-p8p14.ndjson.part-otherhost-123").write_text("half a file")  # a killed worker's
    stdout, _ = parse(first, second, "--out", out)
    assert f"skipped, {done} is complete" in stdout
    assert done.read_text().endswith("\n\n")
    assert [r[0] for r in rows_of(output_path(second, out))] == ["The Hobbit", "Война и мир"]


def test_two_processes_write_what_one_does(tmp_path):
    dumps = [make_dump(tmp_path / f"p-pages-articles{n}.xml-p{n}p{n}.bz2", PAGES[n:] + PAGES[:n]) for n in range(3)]
    parse(*dumps, "--out", tmp_path / "one")
    parse(*dumps, "--out", tmp_path / "two", "--processes", "2")
    for dump in dumps:
        assert output_path(dump, tmp_path / "one").read_text() == output_path(dump, tmp_path / "two").read_text()


def test_two_inputs_with_one_output_name_are_refused(tmp_path):
    (tmp_path / "x").mkdir()
    a = make_dump(tmp_path / "d.xml.bz2", PAGES[:1])
    b = make_dump(tmp_path / "x" / "d.xml.bz2", PAGES[:1])
    with pytest.raises(CommandError, match="would both be written"):
        parse(a, b, "--out", tmp_path / "out")


@pytest.mark.django_db
def test_round_trip_into_import_books(tmp_path):
    dump = make_dump(tmp_path / "enwiki-pages-articles1.xml-p1p7.bz2")
    stdout, _ = parse(dump, "--out", tmp_path / "out", "--import")
    assert "Imported" in stdout
    assert sorted(Book.objects.values_list("title", flat=True)) == ["The Hobbit", "Über Bücher", "Война и мир"]
    hobbit = Book.objects.get(title="The Hobbit")
    assert hobbit.author == "J. R. R. Tolkien" and hobbit.genre == "Fantasy" and hobbit.pages == "310"
    links = set(BookLink.objects.filter(book=hobbit).values_list("link__name", flat=True))
    assert {"middle-earth", "category:1937 novels", "gothic fiction#first parodies"} <= links
    assert "hardcover" not in links and "wikipedia:wikiproject novels" not in links  # the shelf words
    # importing the directory, as `make run` does with BOOKS_DATA=DIR, is idempotent
    call_command("import_books", str(tmp_path / "out"), stdout=io.StringIO())
    assert Book.objects.count() == 3


@pytest.mark.slow
def test_celery_task_parses_a_file_on_the_real_broker(celery_worker_process, tmp_path):
    good = make_dump(tmp_path / "enwiki-pages-articles1.xml-p1p7.bz2")
    bad = make_dump(tmp_path / "enwiki-pages-articles2.xml-p8p14.bz2", PAGES * 20)
    bad.write_bytes(bad.read_bytes()[:-200])
    out = tmp_path / "out"
    stdout = io.StringIO()
    with pytest.raises(CommandError) as error:
        call_command("queue_wikipedia_dump", str(good), str(bad), "--out", str(out), "--timeout", "120", stdout=stdout)
    assert "truncated" in str(error.value) and str(bad) in str(error.value)
    assert "3 books of 7 pages" in stdout.getvalue()
    assert [r[0] for r in rows_of(output_path(good, out))] == ["The Hobbit", "Война и мир", "Über Bücher"]
    assert sorted(p.name for p in out.iterdir()) == ["enwiki-pages-articles1-p1p7.ndjson", "parse-tasks.json"]
    # a second run queues nothing for the finished file
    again = io.StringIO()
    call_command("queue_wikipedia_dump", str(good), "--out", str(out), "--timeout", "60", stdout=again)
    assert "skipped" in again.getvalue() and "queued 0 files" in again.getvalue()


def _peak_memory(dump: Path, positions: list[int]) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_pages(dump, positions.append, chunk_size=1 << 16))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_and_progress_counts_compressed_bytes(tmp_path, decoder):
    small = make_dump(tmp_path / "small.xml.bz2", PAGES * 50)
    large = make_dump(tmp_path / "large.xml.bz2", PAGES * 400)
    positions: list[int] = []
    count, peak_small = _peak_memory(small, [])
    count, peak_large = _peak_memory(large, positions)
    assert count == len(PAGES) * 400
    assert peak_large < peak_small * 1.2, (peak_small, peak_large)  # 8x the pages, not more memory
    assert positions == sorted(positions) and positions[-1] == large.stat().st_size


def test_multistream_dumps_and_plain_xml_read_alike(tmp_path, decoder):
    plain = make_dump(tmp_path / "plain.xml")
    xml = plain.read_bytes()
    middle = xml.index(b"  <page>", len(xml) // 2)
    multistream = tmp_path / "enwiki-pages-articles-multistream.xml.bz2"
    multistream.write_bytes(bz2.compress(xml[:middle]) + bz2.compress(xml[middle:]))  # as Wikipedia cuts them
    assert list(iter_pages(multistream)) == list(iter_pages(plain)) == PAGES


def test_leaving_part_way_stops_the_decompression_thread(tmp_path, decoder):
    dump = make_dump(tmp_path / "enwiki-pages-articles1.xml-p1p7.bz2", PAGES * 400)
    pages = iter_pages(dump, chunk_size=1 << 12)
    assert next(pages) == PAGES[0]
    pages.close()  # as when the consumer fails: the thread decompressing ahead must not be left blocked
    assert not [t for t in threading.enumerate() if t.name.startswith("bunzip2")]


def test_data_after_the_last_bz2_stream_is_ignored_like_bz2file(tmp_path, decoder):
    dump = make_dump(tmp_path / "enwiki-pages-articles1.xml-p1p7.bz2")
    dump.write_bytes(dump.read_bytes() + b"\0" * 300)  # padding some tools leave behind
    assert list(iter_pages(dump)) == PAGES


# ----------------------------------------------------------------------- the raw scan: what is not parsed
SPELLINGS = [
    "Infobox book",
    "infobox_Book",
    " Infobox  book",
    "INFOBOX   BOOK",
    "Template:Infobox book",
    "template:infobox_book ",
    "Infobox\tbook",
    "Infobox\u00a0book",  # a no-break space: MAY_HOLD_INFOBOX's \\s matches it, and so template_key
    "Infobox\u3000book",
    "Infobox boo\u212a",  # the Kelvin sign, which lower() turns into "k"
]
SPELLED = [
    Page(f"Spelling {n}", 0, False, STAMP, f"{{{{{name}|name=B{n}}}}} [[Link {n}]]") for n, name in enumerate(SPELLINGS)
]
MENTIONS = [  # the words in the raw bytes, but no template: parsed, and not books
    Page("Prose", 0, False, STAMP, "Editors use the infobox book template, see [[Template:Infobox book]]."),
    Page("Nowiki", 0, False, STAMP, "<nowiki>{{Infobox book}}</nowiki> shows the code (&lt; escaped twice)."),
    Page("Commented", 0, False, STAMP, "<!-- {{Infobox book}} -->{{Infobox film|name=Commented}}"),
    Page("Series", 0, False, STAMP, "{{Infobox book series|name=Discworld}}"),
    Page("Close", 0, False, STAMP, "{{Infoboxbook|name=x}} {{Infobox-book}} {{Infobox&book}}"),
]
SCANNED = PAGES + SPELLED + MENTIONS


def every_page(dump: Path) -> tuple[list, int, int]:
    """The rows, candidates and pages as before the raw scan: every page parsed by expat, then pre-filtered."""
    pages = list(iter_pages(dump))
    candidates = [p for p in pages if may_be_book(p)]
    return [r for p in candidates if (r := book_row(p))], len(candidates), len(pages)


def scanned(dump: Path, **options) -> tuple[list, int, int]:
    stream = PageStream(dump, marks=raw_marks, **options)
    candidates = [p for p in stream if may_be_book(p)]
    return [r for p in candidates if (r := book_row(p))], len(candidates), stream.seen


def raw_dump(path: Path, pages: list[str]) -> Path:
    """A plain XML dump whose pages are given as XML, to put in it what write_dump would escape."""
    path.write_text(HEADER + "".join(pages) + FOOTER, encoding="utf-8")
    return path


def raw_page(title: str, text: str, namespace: int = 0) -> str:
    return page_xml(Page(title, namespace, False, STAMP, "@TEXT@"), 1).replace("@TEXT@", text)


def test_raw_scan_parses_only_pages_that_may_hold_the_template(tmp_path):
    dump = make_dump(tmp_path / "d.xml.bz2")
    stream = PageStream(dump, marks=raw_marks)
    # Smaug is skipped unparsed; the redirect, the Template: page and the mere mention are parsed, then dropped
    assert [p.title for p in stream] == [p.title for p in PAGES if p.title != "Smaug"]
    assert stream.seen == len(PAGES)
    assert [r[0] for r in scanned(dump)[0]] == ["The Hobbit", "Война и мир", "Über Bücher"]


def test_raw_scan_finds_every_spelling_and_drops_mere_mentions(tmp_path):
    dump = make_dump(tmp_path / "d.xml.bz2", SCANNED)
    rows, candidates, seen = scanned(dump)
    assert (rows, candidates, seen) == every_page(dump)
    assert [r[0] for r in rows] == ["The Hobbit", "Война и мир", "Über Bücher"] + [p.title for p in SPELLED]
    assert seen == len(SCANNED)


@pytest.mark.parametrize("chunk_size", [*range(1, 16), 64, 1000])
def test_raw_scan_finds_pages_split_across_chunks(tmp_path, chunk_size):
    # chunks of 1 to 15 bytes cut every <page> and </page> at every place; a plain file is read as it is cut
    dump = make_dump(tmp_path / "d.xml", SCANNED)
    assert scanned(dump, chunk_size=chunk_size) == every_page(dump)


def test_raw_scan_streams_pages_too_long_to_hold(tmp_path):
    dump = make_dump(tmp_path / "d.xml.bz2", SCANNED * 3)
    assert scanned(dump, chunk_size=100, max_page=300) == every_page(dump)


def test_raw_scan_counts_character_references_spelling_the_name(tmp_path):
    # MediaWiki writes none, but expat decodes them: the name may be spelled with them anywhere
    dump = raw_dump(
        tmp_path / "d.xml",
        [
            raw_page("Letters", "{{&#73;nfobox&#x20;boo&#x6B;|name=Letters}}"),
            raw_page("Space", "{{Infobox&#0160;book|name=Space}}"),
            raw_page("Kelvin", "{{Infobox boo&#8490;|name=Kelvin}}"),
            raw_page("Apostrophe", "{{Infobox film|name=&#39;Quoted&#39;}}"),
            raw_page("Escaped", "{{Infobox&amp;#32;book|name=Escaped}}"),  # `&#32;` in the wikitext: no space
        ],
    )
    rows, candidates, seen = scanned(dump)
    assert (rows, candidates, seen) == every_page(dump)
    assert [r[0] for r in rows] == ["Letters", "Space", "Kelvin"] and seen == 5


def test_raw_scan_reads_markup_that_hides_page_tags_as_expat_does(tmp_path):
    dump = raw_dump(
        tmp_path / "d.xml",
        [
            raw_page("First", "[[plain]]"),
            "  <!-- <page><title>Ghost</title><ns>0</ns><revision><text>x</text></revision></page> -->\n",
            raw_page("After ghost", "[[plain]]"),
            raw_page("CDATA", "<![CDATA[{{Infobox book|name=CDATA}} </page> <page> ]]>"),
            raw_page("After CDATA", "[[plain]]"),
            raw_page("Unclosed CDATA end", "<![CDATA[ </page>\n  <page><title>Inner</title></page>]]>"),
            "  <?pi </page> ?>\n",
            raw_page("Last", "{{Infobox book|name=Last}}"),
            raw_page("Spaced end tag", "[[plain]]").replace("</page>", "</page >"),  # held on into the next page
            raw_page("After it", "[[plain]]"),
        ],
    )
    rows, candidates, seen = scanned(dump)
    assert (rows, candidates, seen) == every_page(dump)
    assert [r[0] for r in rows] == ["CDATA", "Last"] and seen == 8


def test_raw_scan_parses_everything_under_a_dtd(tmp_path):
    dump = tmp_path / "d.xml"
    dump.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE mediawiki [<!ENTITY name "Infobox book">]>\n'
        + HEADER
        + raw_page("Plain", "[[plain]]")
        + raw_page("Entity", "{{&name;|name=Entity}}")
        + FOOTER
    )
    assert [r[0] for r in scanned(dump)[0]] == ["Entity"]


def test_raw_test_is_wide_enough_for_every_character_the_parsed_test_matches():
    # what lower() turns into a letter of the name: only these two outside ASCII (İ cannot be in a match)
    letters = set("infobxk")
    assert [c for c in map(chr, range(128, 0x110000)) if letters & set(c.lower())] == ["\u0130", "\u212a"]
    spaces = [c for c in map(chr, range(0x110000)) if re.fullmatch(r"[\s_]", c)]
    for space in spaces:
        text = f"{{{{Infobox{space}Book}}}}"
        assert may_be_book(Page("T", 0, False, STAMP, text))
        for raw in (text, f"{{{{Infobox&#{ord(space)};Book}}}}", f"{{{{Infobox&#x{ord(space):X};Book}}}}"):
            assert raw_marks(raw.encode()), repr(raw)
    assert raw_marks("{{Infobox boo\u212a}}".encode()) and raw_marks(b"{{Infobox boo&#x212A;}}")


def test_raw_scan_reports_a_file_cut_in_a_skipped_page(tmp_path):
    dump = make_dump(tmp_path / "enwiki-pages-articles1.xml", PAGES * 3)
    xml = dump.read_bytes()
    cut = xml.index(b"Smaug", len(xml) // 2)
    dump.write_bytes(xml[:cut])
    out = tmp_path / "out"
    with pytest.raises(CommandError) as error:
        parse(dump, "--out", out)
    message = str(error.value)
    assert str(dump) in message and "not well-formed XML at byte" in message
    at = int(re.search(r"at byte ([\d,]+)", message).group(1).replace(",", ""))
    assert xml.rindex(b"<page>", 0, cut) <= at <= cut  # in the decompressed file, not in what expat was fed
    assert list(out.iterdir()) == []


def test_raw_scan_of_a_truncated_bz2_is_a_clear_error(tmp_path, decoder):
    dump = make_dump(tmp_path / "d.xml.bz2", SCANNED * 20)
    dump.write_bytes(dump.read_bytes()[:-300])
    with pytest.raises(DumpError, match="truncated"):
        scanned(dump)


def test_raw_scan_memory_stays_flat(tmp_path):
    small = make_dump(tmp_path / "small.xml.bz2", SCANNED * 20)
    large = make_dump(tmp_path / "large.xml.bz2", SCANNED * 160)
    peaks = []
    for dump in (small, large):
        tracemalloc.start()
        try:
            stream = PageStream(dump, chunk_size=1 << 16, marks=raw_marks)
            sum(1 for _ in stream)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert stream.seen == len(SCANNED) * 160
    assert peaks[1] < peaks[0] * 1.2, peaks
