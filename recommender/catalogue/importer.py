"""Write book records into the catalogue in bulk, idempotently: a re-run updates and never duplicates.

Records are read in full first, so that `strict` can refuse a file with a bad line before anything is
written; then books, links and pairs are written in batches, one transaction per batch.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import Count, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from tqdm import tqdm

from embeddings.chunking import chunks
from embeddings.stale import mark_stale_versions
from recommender.catalogue.models import Book, BookLink, Link
from recommender.catalogue.series import refresh_series
from recommender.catalogue.sources import BadRecord, BookRecord
from recommender.catalogue.text import search_key
from recommender.fold_ins import queue_books

BOOK_COLUMNS = (
    "author",
    "genre",
    "country",
    "language",
    "publisher",
    "pages",
    "published",
    "cover_url",
    "average_rating",
    "external_id",
)
UPDATE_FIELDS = [*BOOK_COLUMNS, "infobox", "source", "imported_from", "has_links", "search_text", "title_key"]
# Database columns are bounded; long infobox values are cut to fit rather than failing the batch.
CHAR_LIMITS = {f.name: f.max_length for f in Book._meta.fields if getattr(f, "max_length", None)}
BATCH_BOOKS = 2000
SQL_CHUNK = 900  # ids per IN (...) clause: below every backend's parameter limit


def _insert_pairs(rows: list[tuple[int, int, int]]) -> None:
    """Plain rows straight to the database: COPY on PostgreSQL, executemany elsewhere (no model objects)."""
    if not rows:
        return
    table = connection.ops.quote_name(BookLink._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} (book_id, link_id, weight) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} (book_id, link_id, weight) VALUES (%s, %s, %s)", rows)


class ImportRefused(Exception):
    """The input cannot be imported as asked (bad line under --strict, mixed catalogues)."""


@dataclass
class ImportSummary:
    books_added: int = 0
    books_updated: int = 0
    books_unchanged: int = 0
    links_added: int = 0
    pairs_added: int = 0
    pairs_removed: int = 0
    pairs_updated: int = 0
    duplicates: int = 0
    bad_lines: list[str] = field(default_factory=list)
    books_with_new_links: set[int] = field(default_factory=set)  # added, or whose pairs were added or removed
    fold_in: str = ""  # what happened to them (recommender/fold_ins.py)

    @property
    def books_skipped(self) -> int:
        return len(self.bad_lines)

    def __str__(self) -> str:
        return (
            f"books: {self.books_added} added, {self.books_updated} updated, {self.books_unchanged} unchanged, "
            f"{self.books_skipped} skipped; links: {self.links_added} added; pairs: {self.pairs_added} added, "
            f"{self.pairs_updated} updated, {self.pairs_removed} removed; bad lines: {len(self.bad_lines)}"
            + (f"; repeated titles: {self.duplicates} (last one kept)" if self.duplicates else "")
            + (f"\nfold-in: {self.fold_in}" if self.fold_in else "")
        )


@dataclass
class _Row:
    """A record ready to write; links None means 'leave this book's links alone' (metadata-only rows)."""

    record: BookRecord
    links: dict[str, int] | None


class Importer:
    def __init__(
        self,
        source: str,
        *,
        strict: bool = False,
        replace: bool = False,
        report: Callable[[str], None] = print,
        progress: bool | None = None,
    ) -> None:
        self.source = source
        self.strict = strict
        self.replace = replace
        self.report = report
        self.progress = progress  # None: a bar only on a terminal
        self.summary = ImportSummary()
        self.replaced = False  # check_catalogue deleted another source's catalogue

    # -- reading ---------------------------------------------------------------------------
    def collect(self, items: Iterable[BookRecord | BadRecord]) -> dict[str, _Row]:
        rows: dict[str, _Row] = {}
        for item in items:
            if isinstance(item, BadRecord):
                if self.strict:
                    raise ImportRefused(f"{item} (--strict: nothing was written)")
                self.summary.bad_lines.append(str(item))
                self.report(f"skipped {item}")
                continue
            if item.title in rows:
                self.summary.duplicates += 1
            rows[item.title] = _Row(item, item.links)
        return rows

    @staticmethod
    def merge_info(rows: dict[str, _Row], info: Iterable, include_unlinked: bool) -> list[str]:
        """Fill empty columns from book_info.tsv by title; returns the TSV's bad lines."""
        bad: list[str] = []
        for item in info:
            if isinstance(item, BadRecord):
                bad.append(str(item))
                continue
            title, columns = item
            row = rows.get(title)
            if row is not None:
                for column, value in columns.items():
                    row.record.fields.setdefault(column, value)  # the infobox wins where both exist
            elif include_unlinked:
                rows[title] = _Row(BookRecord(title=title, location="book_info.tsv", fields=dict(columns)), None)
        return bad

    # -- writing ---------------------------------------------------------------------------
    def check_catalogue(self) -> None:
        other = Book.objects.exclude(source=self.source).values_list("source", flat=True).first()
        if other is None:
            return
        if not self.replace:
            count = Book.objects.exclude(source=self.source).count()
            raise ImportRefused(
                f"the catalogue holds {count} books from {other}; one catalogue per database: "
                f"pass --replace to delete it and import {self.source} instead"
            )
        with transaction.atomic():
            BookLink.objects.all().delete()
            Book.objects.all().delete()
            Link.objects.all().delete()
        self.replaced = True
        self.report(f"--replace: deleted the {other} catalogue")
        stale = mark_stale_versions(Book.objects.values_list("id", flat=True))
        if stale:  # the served one keeps answering for ids that still exist until a new version is trained
            self.report(f"--replace: {len(stale)} model version(s) marked stale; train a new one")

    def write(self, rows: dict[str, _Row]) -> ImportSummary:
        self.check_catalogue()
        link_ids = self._write_links(rows.values())
        ordered = list(rows.values())
        with tqdm(total=len(ordered), unit="book", desc="import", disable=self._bar_disabled()) as bar:
            for batch in chunks(ordered, BATCH_BOOKS):
                with transaction.atomic():
                    self._write_batch(batch, link_ids)
                bar.update(len(batch))
        self._refresh_link_counts()
        refresh_series()
        if not self.replaced and self.summary.books_with_new_links:
            # new lines in the existing catalogue get vectors at once (a worker folds them into the active version)
            self.summary.fold_in = queue_books(self.summary.books_with_new_links)
        return self.summary

    def _bar_disabled(self) -> bool | None:
        return None if self.progress is None else not self.progress

    def _write_links(self, rows: Iterable[_Row]) -> dict[str, int]:
        names = {name for row in rows if row.links for name in row.links}
        existing = dict(Link.objects.values_list("name", "id"))
        missing = sorted(names - existing.keys())
        for chunk in chunks(missing, 5000):
            with transaction.atomic():
                Link.objects.bulk_create([Link(name=name) for name in chunk], ignore_conflicts=True)
        if missing:
            for chunk in chunks(missing, SQL_CHUNK):
                existing.update(Link.objects.filter(name__in=chunk).values_list("name", "id"))
        self.summary.links_added += len(missing)
        return existing

    def _book_values(self, row: _Row, existing: dict | None) -> dict:
        record = row.record
        values = {column: record.fields.get(column) for column in BOOK_COLUMNS}
        for column in BOOK_COLUMNS:
            if values[column] is None and column != "average_rating":
                values[column] = ""
        for column, limit in CHAR_LIMITS.items():
            if isinstance(values.get(column), str):
                values[column] = values[column][:limit]
        values.update(
            infobox=record.infobox,
            source=self.source,
            imported_from=record.location[:500],
            has_links=bool(row.links) if row.links is not None else bool(existing and existing["has_links"]),
            search_text=search_key(record.title, str(values["author"] or "")),
            title_key=search_key(record.title)[:500],
        )
        return values

    def _write_batch(self, batch: list[_Row], link_ids: dict[str, int]) -> None:
        titles = [row.record.title for row in batch]
        existing = {b["title"]: b for b in Book.objects.filter(title__in=titles).values("id", "title", *UPDATE_FIELDS)}
        books, changed = [], 0
        for row in batch:
            old = existing.get(row.record.title)
            values = self._book_values(row, old)
            if old is None:
                self.summary.books_added += 1
            elif row.links is None and old["has_links"]:
                self.summary.books_unchanged += 1  # metadata-only row never overwrites a linked book
                continue
            elif all(old[k] == v for k, v in values.items() if k != "imported_from"):
                self.summary.books_unchanged += 1
                continue
            else:
                changed += 1
            books.append(Book(title=row.record.title, **values))
        self.summary.books_updated += changed
        if books:
            Book.objects.bulk_create(
                books, update_conflicts=True, unique_fields=["title"], update_fields=UPDATE_FIELDS, batch_size=500
            )
        ids = dict(Book.objects.filter(title__in=titles).values_list("title", "id"))
        self._write_pairs({ids[row.record.title]: row.links for row in batch if row.links is not None}, link_ids)

    def _write_pairs(self, wanted: dict[int, dict[str, int]], link_ids: dict[str, int]) -> None:
        current: dict[tuple[int, int], tuple[int, int]] = {}
        for chunk in chunks(list(wanted), SQL_CHUNK):
            for pk, book_id, link_id, weight in BookLink.objects.filter(book_id__in=chunk).values_list(
                "id", "book_id", "link_id", "weight"
            ):
                current[(book_id, link_id)] = (pk, weight)
        new, updated, keep = [], [], set()
        for book_id, links in wanted.items():
            for name, weight in links.items():
                key = (book_id, link_ids[name])
                keep.add(key)
                old = current.get(key)
                if old is None:
                    new.append((key[0], key[1], weight))
                elif old[1] != weight:
                    updated.append(BookLink(id=old[0], weight=weight))
        stale = [pk for key, (pk, _) in current.items() if key not in keep]
        self.summary.books_with_new_links.update(book_id for book_id, _, _ in new)
        self.summary.books_with_new_links.update(key[0] for key in current if key not in keep)
        _insert_pairs(new)
        BookLink.objects.bulk_update(updated, ["weight"], batch_size=1000)
        for chunk in chunks(stale, SQL_CHUNK):
            BookLink.objects.filter(id__in=chunk).delete()
        self.summary.pairs_added += len(new)
        self.summary.pairs_updated += len(updated)
        self.summary.pairs_removed += len(stale)

    def _refresh_link_counts(self) -> None:
        counts = BookLink.objects.filter(link=OuterRef("pk")).values("link").annotate(n=Count("*")).values("n")
        with transaction.atomic():
            Link.objects.update(book_count=Coalesce(Subquery(counts), Value(0)))
            Link.objects.filter(book_count=0).delete()  # a link no book uses any more
        # Fresh statistics: without them PostgreSQL plans the serving queries as for empty tables.
        tables = ", ".join(m._meta.db_table for m in (Book, Link, BookLink))
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}" if connection.vendor == "postgresql" else "ANALYZE")


def catalogue_is_empty() -> bool:
    return not Book.objects.exists()
