"""Readers for the raw data files. They yield clean records and report bad lines; they never touch the database.

Wikipedia ndjson: one JSON array a line, `[title, infobox, wikilinks, external links, timestamp, text length]`
(the format of the original project's `found_books_filtered.ndjson`). Any file may be gzip or bz2 compressed
(`.gz`, `.bz2`); a file that cannot be read as a whole raises textfiles.UnreadableFile.
"""

import glob
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from recommender.catalogue.text import wiki_to_text
from recommender.catalogue.textfiles import csv_rows, cut_short, read_lines

# Links that say how a book is bound or which WikiProject tags it, not what it is about.
SHELF_LINKS = frozenset(
    {
        "hardcover",
        "paperback",
        "hardback",
        "e-book",
        "wikipedia:wikiproject books",
        "wikipedia:wikiproject novels",
    }
)

# Infobox field names, first present wins, for each catalogue column.
INFOBOX_FIELDS = {
    "author": ("author", "authors", "editor", "editors"),
    "genre": ("genre", "genres", "subject"),
    "country": ("country",),
    "language": ("language",),
    "publisher": ("publisher",),
    "pages": ("pages",),
    "published": ("pub_date", "release_date", "published", "publication_date", "english_pub_date"),
}
INFO_COLUMNS = ("author", "genre", "pages", "language", "country", "publisher")
NDJSON_PATTERNS = ("*.ndjson", "*.ndjson.gz", "*.ndjson.bz2")


class BadRecord(ValueError):
    """A line that cannot be imported; `location` is `file:line`."""

    def __init__(self, location: str, reason: str) -> None:
        super().__init__(f"{location}: {reason}")
        self.location = location
        self.reason = reason


@dataclass
class BookRecord:
    title: str
    location: str
    links: dict[str, int] = field(default_factory=dict)  # link name -> weight
    fields: dict[str, object] = field(default_factory=dict)  # Book column -> value
    infobox: dict = field(default_factory=dict)


def clean_links(raw_links: Iterable[str]) -> dict[str, int]:
    """Lower-case, count once per book, drop the shelf words; order of first use is kept."""
    links: dict[str, int] = {}
    for raw in raw_links:
        name = str(raw).strip().lower()
        if name and name not in SHELF_LINKS:
            links.setdefault(name, 1)
    return links


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files named directly, every *.ndjson (.gz, .bz2) of a directory, or the matches of a glob, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(os.path.expanduser(raw))
        if path.is_dir():
            found.extend(sorted(p for pattern in NDJSON_PATTERNS for p in path.glob(pattern)))
        elif path.is_file():
            found.append(path)
        else:
            matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(raw)))
            if not matches:
                raise FileNotFoundError(f"{raw}: no such file, directory or glob match")
            found.extend(m for m in matches if m.is_file())
    return found


def infobox_columns(infobox: dict) -> dict[str, str]:
    columns = {}
    for column, names in INFOBOX_FIELDS.items():
        for name in names:
            text = wiki_to_text(infobox.get(name))
            if text:
                columns[column] = text[:500]
                break
    return columns


def parse_wikipedia_line(line: str, location: str) -> BookRecord | None:
    """One ndjson line to a record; None for pages that are not books (`Wikipedia:` titles)."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadRecord(location, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, list) or len(row) < 3:
        raise BadRecord(location, "expected a JSON array [title, infobox, wikilinks, ...]")
    title, infobox, wikilinks = row[0], row[1], row[2]
    if not isinstance(title, str) or not title.strip():
        raise BadRecord(location, "title is missing or not a string")
    if not isinstance(infobox, dict):
        raise BadRecord(location, "infobox is not a JSON object")
    if not isinstance(wikilinks, list) or not all(isinstance(w, str) for w in wikilinks):
        raise BadRecord(location, "wikilinks is not a list of strings")
    if holds_nul([title, infobox, wikilinks]):
        raise BadRecord(location, "holds a NUL character, which the database cannot store")
    title = title.strip()
    if len(title) > 500:
        raise BadRecord(location, "title is longer than 500 characters")
    if title.startswith("Wikipedia:"):
        return None
    return BookRecord(
        title=title,
        location=location,
        links=clean_links(wikilinks),
        fields=infobox_columns(infobox),
        infobox=infobox,
    )


def holds_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(v) for v in value)
    return False


def read_wikipedia(path: Path) -> Iterator[BookRecord | BadRecord]:
    for line in read_lines(path):
        if not line.text.strip():
            continue
        location = f"{path.name}:{line.number}"
        try:
            record = parse_wikipedia_line(line.text, location)
        except BadRecord as bad:
            if not line.complete:  # the last line, without its line break: the file was cut short
                raise cut_short(path, line.number) from None
            yield bad
            continue
        if record is not None:
            yield record


def read_book_info(path: Path) -> Iterator[tuple[str, dict[str, str]] | BadRecord]:
    """book_info.tsv: title, author, genre, pages, language, country, publisher."""
    # Values holding tabs are quoted, as csv writes them; line numbers count physical lines.
    rows = csv_rows(path, delimiter="\t")
    _, header, _ = next(rows, (1, None, False))
    if not header or header[0].strip() != "title":
        yield BadRecord(f"{path.name}:1", "expected a header starting with 'title'")
        return
    for number, row, last_cut in rows:
        if not row:
            continue
        if len(row) != len(header) or not row[0].strip():
            if last_cut:
                raise cut_short(path, number)
            yield BadRecord(f"{path.name}:{number}", f"expected {len(header)} tab-separated columns")
            continue
        values = dict(zip(header, row, strict=True))
        columns = {c: wiki_to_text(values.get(c))[:500] for c in INFO_COLUMNS}
        yield row[0].strip(), {c: v for c, v in columns.items() if v}


# Goodreads tags that are shelves or reading status, not content: the goodbooks counterpart of SHELF_LINKS.
# Exact names first, then patterns for the families (read-in-2015, 2014-reads, 4-stars, kindle-books, ...).
GOODREADS_SHELF_TAGS = frozenset(
    {
        "to-read",
        "currently-reading",
        "read",
        "want-to-read",
        "tbr",
        "wish-list",
        "wishlist",
        "maybe",
        "to-buy",
        "need-to-buy",
        "favorites",
        "favourites",
        "favorite",
        "favourite",
        "faves",
        "owned",
        "owned-books",
        "books-i-own",
        "i-own",
        "own-it",
        "own",
        "have",
        "books-i-have",
        "my-books",
        "books",
        "my-library",
        "home-library",
        "library",
        "library-books",
        "library-book",
        "bookshelf",
        "my-bookshelf",
        "on-my-shelf",
        "default",
        "kindle",
        "kindle-books",
        "on-kindle",
        "nook",
        "ebook",
        "ebooks",
        "e-book",
        "e-books",
        "audiobook",
        "audiobooks",
        "audio",
        "audio-book",
        "audio-books",
        "audible",
        "listened-to",
        "calibre",
        "paperback",
        "hardcover",
        "re-read",
        "reread",
        "abandoned",
        "borrowed",
        "did-not-finish",
        "dnf",
        "didn-t-finish",
        "unfinished",
        "finished",
        "unread",
        "reviewed",
        "arc",
        "recommended",
        "must-read",
        "shelfari-favorites",
        "all-time-favorites",
        "favorite-books",
        "favorite-authors",
        "favorite-series",
        "my-favorites",
        "book-club",
        "bookclub",
    }
)
GOODREADS_SHELF_PATTERNS = (
    r"^read-",  # read-in-2015, read-2014, read-for-school
    r"^\d{4}-reads?$",
    r"^\d(\.\d)?-stars?$",
    r"^to-(read|buy)",
    r"^own(ed)?-",
    r"favou?rite",
    r"kindle",
    r"^audio",
    r"^e-?books?",
    r"^tbr",
    r"^wish",
)
_SHELF_RE = re.compile("|".join(GOODREADS_SHELF_PATTERNS))


def is_shelf_tag(name: str) -> bool:
    return name in GOODREADS_SHELF_TAGS or bool(_SHELF_RE.search(name))


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows as dicts with the physical line each ends on (a quoted value may span lines); missing values are None.
    A last row with too few values and no line break is a file cut short."""
    rows = csv_rows(path)
    _, header, _ = next(rows, (1, [], False))
    for number, row, last_cut in rows:
        if not row:
            continue
        if len(row) < len(header) and last_cut:
            raise cut_short(path, number)
        yield number, dict(zip(header, row + [None] * (len(header) - len(row)), strict=False))


def _require_columns(path: Path, columns: set[str]) -> None:
    _, header, _ = next(csv_rows(path), (1, [], False))
    missing = columns - set(header)
    if missing:
        raise BadRecord(f"{path.name}:1", f"missing columns: {', '.join(sorted(missing))}")


def goodbooks_file(directory: Path, name: str) -> Path:
    """directory/name, or its .gz or .bz2 form."""
    for candidate in (name, f"{name}.gz", f"{name}.bz2"):
        if (directory / candidate).is_file():
            return directory / candidate
    raise FileNotFoundError(f"{directory / name}: missing (expected books.csv, tags.csv, book_tags.csv)")


def read_goodbooks(directory: Path) -> Iterator[BookRecord | BadRecord]:
    """books.csv, tags.csv and book_tags.csv of goodbooks-10k (each may be .gz or .bz2): tags, less shelves, become
    links."""
    names = ("books.csv", "tags.csv", "book_tags.csv")
    books_csv, tags_csv, book_tags_csv = (goodbooks_file(directory, name) for name in names)
    try:
        _require_columns(books_csv, {"goodreads_book_id", "authors", "title", "average_rating", "image_url"})
        _require_columns(tags_csv, {"tag_id", "tag_name"})
        _require_columns(book_tags_csv, {"goodreads_book_id", "tag_id", "count"})
    except BadRecord as bad:
        yield bad
        return

    tags: dict[str, str] = {}
    for number, row in _csv_rows(tags_csv):
        name = (row.get("tag_name") or "").strip().lower()
        if not row.get("tag_id"):
            yield BadRecord(f"{tags_csv.name}:{number}", "tag_id is empty")
        elif name and not is_shelf_tag(name):
            tags[row["tag_id"]] = name

    links_by_book: dict[str, dict[str, int]] = {}
    for number, row in _csv_rows(book_tags_csv):
        location = f"{book_tags_csv.name}:{number}"
        try:
            count = int(row["count"])
        except (TypeError, ValueError):
            yield BadRecord(location, f"count {row.get('count')!r} is not an integer")
            continue
        name = tags.get(row["tag_id"] or "")
        if name is None:
            continue  # a shelf tag, or one tags.csv does not name
        if count > 0:
            book_links = links_by_book.setdefault(row["goodreads_book_id"], {})
            book_links[name] = book_links.get(name, 0) + count  # tags differing only in case merge

    seen_titles: set[str] = set()
    for number, row in _csv_rows(books_csv):
        location = f"{books_csv.name}:{number}"
        title = (row.get("title") or row.get("original_title") or "").strip()
        goodreads_id = (row.get("goodreads_book_id") or "").strip()
        if not title or not goodreads_id:
            yield BadRecord(location, "title or goodreads_book_id is empty")
            continue
        author = (row.get("authors") or "").strip()
        if title in seen_titles:  # several books share a title: tell them apart by author, then by id
            title = f"{title} ({author.split(',')[0].strip() or goodreads_id})"
            if title in seen_titles:
                title = f"{title} [{goodreads_id}]"
        seen_titles.add(title)
        fields: dict[str, object] = {"author": author[:500], "external_id": goodreads_id}
        year = (row.get("original_publication_year") or "").strip()
        if year:
            try:
                fields["published"] = str(int(float(year)))
            except ValueError:
                yield BadRecord(location, f"original_publication_year {year!r} is not a year")
                continue
        try:
            if row.get("average_rating"):
                fields["average_rating"] = float(row["average_rating"])
        except ValueError:
            yield BadRecord(location, f"average_rating {row['average_rating']!r} is not a number")
            continue
        if row.get("language_code"):
            fields["language"] = row["language_code"].strip()
        image = (row.get("image_url") or "").strip()
        if image.startswith("http") and "nophoto" not in image:
            fields["cover_url"] = image
        yield BookRecord(
            title=title[:500],
            location=location,
            links=links_by_book.get(goodreads_id, {}),
            fields=fields,
            infobox={k: v for k, v in row.items() if k in ("original_title", "isbn13", "books_count") and v},
        )
