"""The catalogue as answers need it, held in each web process's memory: an uncached answer costs no database trip.

An answer of `similar` or `recommend` needs the anchor book, the found books' cards and the links they share with
the anchor. Asking PostgreSQL for them took three round trips per answer; the same data for 37,020 books and their
772,798 links is a few tens of MB, so each web process keeps one `CatalogueSnapshot`, built from the database in a
background thread (no request waits for it) and tied to the served model version (object identity: a new version
or a new fold-in overlay starts a new snapshot).

How fresh: a save or delete of a Book, Link or BookLink in this process drops the snapshot at once (signals,
connected in CatalogueConfig.ready); edits made by other processes (imports, another web process's admin) are
seen within CATALOGUE_SNAPSHOT_SECONDS, the same bound ANSWER_CACHE_SECONDS puts on cached answers. Until a
snapshot is ready, and for any id it does not hold (a book added since it was built), callers ask the database
as before, so a snapshot can only be stale, never incomplete. CATALOGUE_SNAPSHOT_SECONDS=0 turns it off.
"""

import contextlib
import ctypes
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import orjson
from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

RETRY_AFTER = 5.0  # seconds before a failed build (database down) is tried again


@dataclass(frozen=True)
class CatalogueSnapshot:
    """Every book's to_dict() as JSON and links, every link's name and book count.

    Books live in a few flat arrays rather than 37,020 dicts and tuples: a third of the memory, and large
    allocations that leave no fragmented heap behind when the snapshot is replaced. A book's links are held as
    their positions in `links`, by ascending NamedLinks.rank: the order in which shared links are shown, rarest
    first."""

    book_ids: np.ndarray  # ascending
    # book i's to_dict() JSON is described[spans[i, 0]:spans[i, 1]], its links book_links[spans[i, 2]:spans[i, 3]]:
    # one row per book, so the few books of an answer are read with one gather
    spans: np.ndarray
    described: bytes
    book_links: np.ndarray
    links: "NamedLinks"
    built_at: float

    def _position(self, book_id: int) -> int | None:
        at = int(self.book_ids.searchsorted(book_id))
        return at if at < len(self.book_ids) and self.book_ids[at] == book_id else None

    def has_books(self, book_ids: Iterable[int]) -> bool:
        wanted = np.fromiter(book_ids, dtype=np.int64)
        return bool((_find(self.book_ids, wanted) >= 0).all())

    def book_dict(self, book_id: int) -> dict | None:
        at = self._position(book_id)
        if at is None:
            return None
        start, stop = self.spans[at, :2].tolist()
        return orjson.loads(self.described[start:stop])

    def link_dict(self, link_id: int) -> dict | None:
        found = self.links.get(link_id)
        return None if found is None else {"id": link_id, "name": found[0], "book_count": found[1]}

    def has_links(self, link_ids: Iterable[int]) -> bool:
        return all(self.links.get(link_id) is not None for link_id in link_ids)

    def results(
        self, book_ids: list[int], anchor_books: list[int], anchor_link: int | None, limit: int
    ) -> tuple[dict[int, tuple[str, str, str, str]], dict[int, tuple[tuple[int, str], ...]]] | None:
        """What a list of found books shows, as recommendations.shared_links and the cards: each book's (title,
        author, genre, cover_url), and up to `limit` of the links it shares with the anchor books (or with the
        anchor link) as (id, name), rarest first. None unless the snapshot holds every book involved.

        Every book of the answer is found with one lookup and its row read with one gather; the rest is plain
        Python over about ten books (numpy's cost per call, a few us in a busy web process, was most of this)."""
        at = _find(self.book_ids, np.asarray(book_ids + anchor_books, dtype=np.int64))
        if (at < 0).any():
            return None
        rows = self.spans[at].tolist()
        found, anchoring = rows[: len(book_ids)], rows[len(book_ids) :]
        book_links = self.book_links
        if anchor_link is None:
            anchors: set[int] = set()
            for _, _, start, stop in anchoring:
                anchors.update(book_links[start:stop].tolist())
        else:
            anchors = self.link_positions_of([anchor_link])
        described = self.described
        books = orjson.loads(b"[" + b",".join([described[row[0] : row[1]] for row in found]) + b"]")
        cards = {book["id"]: (book["title"], book["author"], book["genre"], book["cover_url"]) for book in books}
        owners, shown = [], []
        if anchors:  # a book's links are in the order shown, so its first `limit` among the anchors are its answer
            disjoint = anchors.isdisjoint
            for book_id, (_, _, start, stop) in zip(book_ids, found, strict=True):
                links = book_links[start:stop].tolist()
                if disjoint(links):  # a found book that shares none of the anchors: one pass in C says so
                    continue
                shared = [at for at in links if at in anchors][:limit]
                owners += [book_id] * len(shared)
                shown += shared
        return cards, self.links.named(owners, shown)

    def link_positions_of(self, link_ids: Iterable[int]) -> set[int]:
        """The positions in `links` of these links; links the snapshot does not know are left out."""
        at = _find(self.links.ids, np.fromiter(link_ids, dtype=np.int64))
        return set(at[at >= 0].tolist())


def _find(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's position in an ascending array, -1 where it is absent."""
    if not len(sorted_values):
        return np.full(len(values), -1, dtype=np.int64)
    at = sorted_values.searchsorted(values)
    np.minimum(at, len(sorted_values) - 1, out=at)
    return np.where(sorted_values[at] == values, at, -1)


@dataclass(frozen=True)
class NamedLinks:
    """Every link's name and book count, in flat arrays (as the books)."""

    ids: np.ndarray  # ascending
    counts: np.ndarray
    names_at: np.ndarray  # link i's name is names[names_at[i]:names_at[i + 1]], UTF-8
    names: bytes
    rank: np.ndarray  # link i's place when all are ordered by (book count, name, id): shared links' order
    decoded: list[str | None] = field(default_factory=list)  # names as str, filled as they are shown

    def get(self, link_id: int) -> tuple[str, int] | None:
        at = int(self.ids.searchsorted(link_id))
        if at == len(self.ids) or self.ids[at] != link_id:
            return None
        return self.names[self.names_at[at] : self.names_at[at + 1]].decode(), int(self.counts[at])

    def named(self, owners: list[int], positions: list[int]) -> dict[int, tuple[tuple[int, str], ...]]:
        """Per owner, its links (given by position, in order) as (id, name); only these names are decoded."""
        if not positions:
            return {}
        named: dict[int, list[tuple[int, str]]] = {}
        for owner, link_id, at in zip(owners, self.ids[positions].tolist(), positions, strict=True):
            named.setdefault(owner, []).append((link_id, self.name(at)))
        return {owner: tuple(links) for owner, links in named.items()}

    def name(self, at: int) -> str:
        found = self.decoded[at]
        if found is None:  # decoded once, when first shown: a str for every link at once would cost ~3 MB a process
            found = self.decoded[at] = self.names[self.names_at[at] : self.names_at[at + 1]].decode()
        return found

    @classmethod
    def read(cls) -> "NamedLinks":
        from recommender.catalogue.models import Link

        ids, counts, names, ends = [], [], [], [0]
        for link_id, name, count in Link.objects.order_by("pk").values_list("id", "name", "book_count").iterator(5000):
            encoded = name.encode()
            ids.append(link_id)
            counts.append(count)
            names.append(encoded)
            ends.append(ends[-1] + len(encoded))
        # UTF-8 bytes sort as their code points do, so this is the order of (count, name, id) as Python compares them
        ordered = sorted(range(len(ids)), key=lambda i: (counts[i], names[i], ids[i]))
        rank = np.empty(len(ids), dtype=np.int32)
        rank[ordered] = np.arange(len(ids), dtype=np.int32)
        return cls(
            ids=np.array(ids, dtype=np.int64),
            counts=np.array(counts, dtype=np.int64),
            names_at=np.array(ends, dtype=np.int64),
            names=b"".join(names),
            rank=rank,
            decoded=[None] * len(ids),
        )


def build() -> CatalogueSnapshot:
    """Read the whole catalogue: three queries, about 2 s for the full-scale catalogue."""
    from recommender.catalogue.models import Book, BookLink

    ids, parts, ends = [], [], [0]
    columns = ["id", "title", "author", "genre", "country", "language", "publisher", "pages", "published"]
    books = Book.objects.only(*columns, "cover_url", "infobox", "average_rating", "source").order_by("pk")
    for book in books.iterator(2000):
        encoded = orjson.dumps(book.to_dict())  # the model's own method, so both paths answer the same
        ids.append(book.pk)
        parts.append(encoded)
        ends.append(ends[-1] + len(encoded))
    book_ids, described_at = np.array(ids, dtype=np.int64), np.array(ends, dtype=np.int64)
    pairs = _book_link_pairs(BookLink.objects.count())
    links = NamedLinks.read()
    named = _find(links.ids, pairs[:, 1])
    known = named >= 0
    pairs, positions = pairs[known], named[known].astype(np.int32)  # a link added after the read of links: no name
    order = np.lexsort((links.rank[positions], pairs[:, 0]))  # by book, then rank
    pairs, positions = pairs[order], positions[order]
    snapshot = CatalogueSnapshot(
        book_ids=book_ids,
        spans=np.stack(
            [
                described_at[:-1],
                described_at[1:],
                # pairs are sorted by book: a book's links lie between where its id would be inserted left and right
                pairs[:, 0].searchsorted(book_ids, side="left"),
                pairs[:, 0].searchsorted(book_ids, side="right"),
            ],
            axis=1,
        ),
        described=b"".join(parts),
        book_links=positions,
        links=links,
        built_at=time.monotonic(),
    )
    del ids, parts, ends, described_at, pairs, named, known, positions, order
    _return_freed_memory()
    return snapshot


def _book_link_pairs(expected: int, chunk: int = 50_000) -> np.ndarray:
    """Every (book id, link id), sorted, read in chunks into one array: 772,798 rows as Python tuples would take
    about 90 MB at once, which the allocator then keeps."""
    pairs = np.empty((expected, 2), dtype=np.int64)
    filled = 0
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT book_id, link_id FROM catalogue_booklink ORDER BY book_id, link_id")
        while rows := cursor.fetchmany(chunk):
            if filled + len(rows) > len(pairs):  # rows added since the count
                pairs = np.resize(pairs, (filled + len(rows) + chunk, 2))
            pairs[filled : filled + len(rows)] = rows
            filled += len(rows)
    return pairs[:filled]


def _return_freed_memory() -> None:
    """Hand the build's freed heap back to the system (glibc keeps it otherwise, and RSS stays at the peak)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc: nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class SnapshotHolder:
    """The process's snapshot for one served version (any object compared by identity), rebuilt in the background."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshot: CatalogueSnapshot | None = None
        self._owner: object | None = None
        self._generation = 0  # bumped by forget(): a build that started before a change is thrown away
        self._building = False
        self._failed_at = float("-inf")

    def get(self, owner: object) -> CatalogueSnapshot | None:
        """The snapshot for `owner` when one is ready, else None (and a build starts); never waits for a build."""
        max_age = settings.CATALOGUE_SNAPSHOT_SECONDS
        if max_age <= 0 or owner is None:
            return None
        snapshot = self._snapshot if self._owner is owner else None
        if snapshot is None or time.monotonic() - snapshot.built_at > max_age:
            self._start_build(owner)
        return snapshot  # a snapshot past its age is still served while its successor is built

    def forget(self, *args, **kwargs) -> None:
        """Drop the snapshot (the catalogue changed): answers come from the database until the next one is built."""
        with self._lock:
            self._generation += 1
            self._snapshot = self._owner = None

    def _start_build(self, owner: object) -> None:
        with self._lock:
            if self._building or time.monotonic() - self._failed_at < RETRY_AFTER:
                return
            self._building = True
            generation = self._generation
        threading.Thread(target=self._build, args=(owner, generation), name="catalogue-snapshot", daemon=True).start()

    def _build(self, owner: object, generation: int) -> None:
        try:
            snapshot = build()
        except Exception:  # the database may be down: answers keep coming from the database path, which says so
            logger.warning("could not build the catalogue snapshot; retrying in %.0f s", RETRY_AFTER, exc_info=True)
            with self._lock:
                self._building, self._failed_at = False, time.monotonic()
            return
        finally:
            connections.close_all()  # this thread's connections only
        with self._lock:
            if generation == self._generation:
                self._snapshot, self._owner = snapshot, owner
            self._building = False

    def wait_until_built(self, owner: object, timeout: float = 30.0) -> CatalogueSnapshot | None:
        """For tests and benchmarks: start a build if needed and wait for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            snapshot = self.get(owner)
            if snapshot is not None:
                return snapshot
            time.sleep(0.02)
        return None


holder = SnapshotHolder()
