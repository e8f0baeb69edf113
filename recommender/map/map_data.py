"""The map's data: a version's projection (map_books.npy / map_links.npy) with the catalogue's names, packed small.

    status(kind)                              MapStatus: ready, or why not (no version / no projection) and what to do
    payload(kind, version_id=None, part=...)  MapPayload: JSON bytes and their gzip, built once per (version, kind,
                                              overlay)

Books folded in after training (the version's overlay, embeddings/overlay.py) have no projected position: each is
placed at the mean map position of its PLACED_NEIGHBOURS nearest trained books in the model's space and listed
in the points document's "folded" entry, which the page shows as FOLDED_NOTE. A trained book folded again after an
edit of its links is placed so too (its projected position is of the vector it no longer has). The overlay's
generation is part of the cache key and the ETag, so an overlay change gives new data.

Two JSON documents per (version, kind), numbers as base64 typed arrays in plotly's {"dtype", "bdata"} form:
"points" is all the first render needs (coordinates, ids, colour codes); "names" (titles, authors, genres) is
fetched after the map is drawn and serves hover, search and the side panel. Names are most of the bytes, so the
map appears before they arrive.

Points:
- x, y: uint16, quantised over the map's bounds ([x0, x1, y0, y1]): 1/65,536 of the extent is far below a pixel
  at any zoom the page allows, and it halves float32's bytes (random low bytes do not gzip).
- ids: int32 catalogue ids as differences from the previous row (versions keep rows in id order, so the
  differences are small and gzip to little; any order still decodes, by a running sum). Folded books come last.
- folded (books, only when the version has folded-in books): {"note": FOLDED_NOTE, "rows": int32 rows}.
- colourings: per colouring a few labels (the most common values, then "other", "unknown") and a uint8 code per
  point. Genres are normalised first (see genre_parts). Links: one colouring by how many books use them.
Names, in the same row order:
- books: titles once; authors and genres as a list of distinct values plus a code per point.
- links: names and how many books use each.

Only numpy and the catalogue: web processes never import umap (the projection is computed by workers).
"""

import base64
import gzip
import heapq
import json
import logging
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from embeddings import overlay, versions
from recommender.catalogue.models import Book, Link

logger = logging.getLogger(__name__)

KINDS = {"book": "map_books.npy", "link": "map_links.npy"}
PARTS = ("points", "names")
GROUPS_COLOURED = 12  # more colours than this stop being told apart; the rest is "other"
OTHER = "other"
UNKNOWN = "unknown"
LINK_BUCKETS = ((1, "1 book"), (2, "2 books"), (3, "3–4 books"), (5, "5–9 books"), (10, "10–24 books"))
LINK_BUCKETS_TOP = ((25, "25–99 books"), (100, "100+ books"))
CACHED_PAYLOADS = 4  # (version, kind) pairs kept per process: the active version's two maps and a previous one
PLACED_NEIGHBOURS = 10  # trained books whose mean map position a folded-in book is drawn at
FOLDED_NOTE = "folded in, placed near its neighbours"

_GENRE_SEPARATORS = re.compile(r"[,;/]")
_SPACES = re.compile(r"\s+")
# "fantasy novel" is a fantasy; "novel" alone, "science fiction" or "graphic novel" stay what they say.
_NOVEL_SUFFIX = re.compile(r"^(?P<genre>.+?) (?:novel|novels|novella|novellas)$")
_KEEP_WITH_NOVEL = {"graphic", "light", "epistolary", "verse", "first", "short"}


class MapUnavailable(LookupError):
    """No map for the asked version: unknown version, nothing active, or a version without a projection."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # "bad-version-id" (malformed), "unknown-version", "no-version", "no-map"


@dataclass(frozen=True)
class MapStatus:
    kind: str
    version_id: str | None
    ready: bool
    reason: str = ""  # when not ready: a MapUnavailable reason
    message: str = ""
    faithfulness: float | None = None
    points: int = 0
    generation: int = 0  # the overlay's (book maps): the page names it in the data's URL, which then never changes


@dataclass(frozen=True)
class MapPayload:
    version_id: str
    kind: str
    part: str
    points: int
    raw: bytes
    gzipped: bytes
    generation: int = 0  # of the version's overlay the data was built with (0: no folded-in book ever)

    @property
    def etag(self) -> str:
        folded = f".{self.generation}" if self.generation else ""
        return f'"map-{self.version_id}{folded}-{self.kind}-{self.part}"'


def genre_parts(text: str | None) -> list[str]:
    """Normalised genres of a book, in its own order: split on , ; /, lower-cased, "fantasy novel" -> "fantasy"."""
    if not text or not text.strip():
        return []
    parts: list[str] = []
    for raw in _GENRE_SEPARATORS.split(text.lower()):
        part = _SPACES.sub(" ", raw).strip(" .")
        match = _NOVEL_SUFFIX.match(part)
        if match and match["genre"] not in _KEEP_WITH_NOVEL:
            part = match["genre"]
        if part and part not in parts:
            parts.append(part)
    return parts


def colour_groups(values: Sequence[Sequence[str]], limit: int = GROUPS_COLOURED) -> tuple[list[str], np.ndarray]:
    """Labels and a uint8 code per point: the `limit` most common values (counted once per point) get their own
    code; a point takes its first value that has one, else "other", or "unknown" when it has no value at all."""
    counts = Counter(value for point in values for value in set(point))
    top = [value for value, _ in heapq.nsmallest(limit, counts.items(), key=lambda item: (-item[1], item[0]))]
    labels = [*top, OTHER, UNKNOWN]
    code_of = {value: code for code, value in enumerate(top)}
    other, unknown = len(top), len(top) + 1
    codes = np.empty(len(values), dtype=np.uint8)
    for row, point in enumerate(values):
        if not point:
            codes[row] = unknown
            continue
        codes[row] = next((code_of[value] for value in point if value in code_of), other)
    return labels, codes


def link_groups(book_counts: Sequence[int]) -> tuple[list[str], np.ndarray]:
    """Links coloured by how many books use them (rare, telling links apart from common ones)."""
    buckets = (*LINK_BUCKETS, *LINK_BUCKETS_TOP)
    floors = np.array([floor for floor, _ in buckets])
    codes = (np.searchsorted(floors, np.asarray(book_counts, dtype=np.int64), side="right") - 1).clip(0)
    return [label for _, label in buckets], codes.astype(np.uint8)


def typed(array: np.ndarray) -> dict:
    """plotly's typed-array form: {"dtype": "u2", "bdata": base64 of the little-endian bytes}."""
    array = np.ascontiguousarray(array)
    dtype = array.dtype.newbyteorder("<")
    code = {"u": "u", "i": "i", "f": "f"}[dtype.kind] + str(dtype.itemsize)
    return {"dtype": code, "bdata": base64.b64encode(array.astype(dtype, copy=False).tobytes()).decode("ascii")}


def quantise(coords: np.ndarray) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Bounds [x0, x1, y0, y1] and uint16 x, y over them."""
    coords = np.asarray(coords, dtype=np.float64)
    if len(coords) == 0:
        return [0.0, 1.0, 0.0, 1.0], np.zeros(0, np.uint16), np.zeros(0, np.uint16)
    low, high = coords.min(axis=0), coords.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = np.rint((coords - low) / span * 65535).astype(np.uint16)
    bounds = [float(low[0]), float(low[0] + span[0]), float(low[1]), float(low[1] + span[1])]
    return bounds, scaled[:, 0], scaled[:, 1]


def dictionary(values: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Distinct values (most common first, so small codes dominate) and a code per point."""
    order = [value for value, _ in Counter(values).most_common()]
    code_of = {value: code for code, value in enumerate(order)}
    dtype = np.uint16 if len(order) <= 65536 else np.uint32
    return order, np.fromiter((code_of[value] for value in values), dtype=dtype, count=len(values))


def _folder(version_id: str | None) -> tuple[str, Path]:
    root = settings.ARTIFACTS_DIR
    if version_id is None:
        version_id = versions.active_version_id(root)
        if version_id is None:
            raise MapUnavailable("no model version is active yet", "no-version")
    try:
        folder = versions.version_path(root, version_id)
    except versions.VersionError as exc:
        raise MapUnavailable(str(exc), "bad-version-id") from None
    if not folder.is_dir():
        raise MapUnavailable(f"no version {version_id!r}", "unknown-version")
    return version_id, folder


def status(kind: str, version_id: str | None = None) -> MapStatus:
    """Whether the map of `kind` can be drawn for a version (default: the active one), and why not."""
    try:
        version_id, folder = _folder(version_id)
    except MapUnavailable as exc:
        return MapStatus(kind, version_id, False, exc.reason, str(exc))
    path = folder / KINDS[kind]
    if not path.is_file():
        return MapStatus(
            kind,
            version_id,
            False,
            "no-map",
            f"version {version_id} was trained before maps existed and has no projection yet",
        )
    info_path = folder / "map.json"
    info = versions.read_json(info_path) if info_path.is_file() else {}
    part = info.get(f"{kind}s", {})
    generation = folded_generation(version_id, folder) if kind == "book" else 0
    return MapStatus(
        kind,
        version_id,
        True,
        faithfulness=part.get("faithfulness@10"),
        points=part.get("points", 0),
        generation=generation,
    )


_generations: dict[tuple[str, tuple | None], int] = {}


def folded_generation(version_id: str, folder: Path) -> int:
    """The generation of a version's overlay as it is on disk (0: none), read again only when its file changed."""
    key = (version_id, overlay.stamp(settings.ARTIFACTS_DIR, version_id))
    if key not in _generations:
        if len(_generations) > 16:
            _generations.clear()
        _generations[key] = _read_overlay(version_id, folder).generation
    return _generations[key]


def _read_overlay(version_id: str, folder: Path) -> overlay.Overlay:
    dim = int(np.load(folder / "book_vectors.npy", mmap_mode="r").shape[1])
    return overlay.Overlay.read(settings.ARTIFACTS_DIR, version_id, dim)


def place_folded(
    book_vectors: np.ndarray, coords: np.ndarray, folded_vectors: np.ndarray, exclude_rows: np.ndarray
) -> np.ndarray:
    """Map positions of folded-in books: the mean of the positions of each one's PLACED_NEIGHBOURS nearest trained
    books by cosine (rows `exclude_rows`, shadowed by the overlay, excepted). The projection is not re-run: it is
    a worker's job, and it would move every book."""
    out = np.zeros((len(folded_vectors), 2), dtype=np.float32)
    usable = np.ones(len(book_vectors), dtype=bool)
    usable[np.asarray(exclude_rows, dtype=np.int64)] = False
    k = min(PLACED_NEIGHBOURS, int(usable.sum()))
    if k == 0:
        return out
    for start in range(0, len(folded_vectors), 256):  # bounded memory for a large overlay
        scores = np.asarray(folded_vectors[start : start + 256], dtype=np.float32) @ np.asarray(book_vectors).T
        scores[:, ~usable] = -np.inf
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        out[start : start + 256] = coords[top].mean(axis=1)
    return out


_cache: OrderedDict[tuple[str, str, tuple | None], dict[str, MapPayload]] = OrderedDict()
_cache_lock = threading.Lock()


def payload(kind: str, version_id: str | None = None, part: str = "points") -> MapPayload:
    """One part of the map's data for a version (default: the active one); both parts are built together, once per
    process and (version, kind), because they share the rows (and their order) read from the catalogue."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if part not in PARTS:
        raise ValueError(f"part must be one of {', '.join(PARTS)}, not {part!r}")
    version_id, folder = _folder(version_id)
    # a book map changes with the version's overlay: its file's stamp keys the cache (one stat a request)
    key = (version_id, kind, overlay.stamp(settings.ARTIFACTS_DIR, version_id) if kind == "book" else None)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key][part]
    built = build_payloads(kind, version_id, folder)
    with _cache_lock:
        _cache[key] = built
        while len(_cache) > CACHED_PAYLOADS:
            _cache.popitem(last=False)
    return built[part]


def forget_payloads() -> None:
    """Drop this process's built payloads, so the next request reads the catalogue's names again (after an edit)."""
    with _cache_lock:
        _cache.clear()


def _packed(version_id: str, kind: str, part: str, points: int, document: dict, generation: int = 0) -> MapPayload:
    raw = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    return MapPayload(version_id, kind, part, points, raw, gzip.compress(raw, compresslevel=9, mtime=0), generation)


def build_payloads(kind: str, version_id: str, folder: Path) -> dict[str, MapPayload]:
    path = folder / KINDS[kind]
    if not path.is_file():
        raise MapUnavailable(f"version {version_id} has no {kind} map yet", "no-map")
    coords = np.load(path)
    ids = np.load(folder / f"{kind}_ids.npy")
    if len(coords) != len(ids):
        raise MapUnavailable(f"version {version_id}: the {kind} map and its ids differ in length", "no-map")
    folded = np.zeros(len(ids), dtype=bool)
    generation = 0
    if kind == "book":
        ids, coords, folded, generation = _with_folded(version_id, folder, ids, coords)
    kept, points, names = _book_data(ids) if kind == "book" else _link_data(ids)
    ids, coords, folded = ids[kept], coords[kept], folded[kept]  # rows whose catalogue record still exists
    bounds, x, y = quantise(coords)
    head = {"version": version_id, "kind": kind, "points": len(ids)}
    points_document = {
        **head,
        "bounds": bounds,
        "x": typed(x),
        "y": typed(y),
        "ids": typed(np.diff(ids, prepend=0).astype(np.int32)),
        **points,
    }
    if folded.any():
        points_document["folded"] = {"note": FOLDED_NOTE, "rows": typed(np.flatnonzero(folded).astype(np.int32))}
    return {
        "points": _packed(version_id, kind, "points", len(ids), points_document, generation),
        "names": _packed(version_id, kind, "names", len(ids), {**head, **names}, generation),
    }


def _with_folded(version_id: str, folder: Path, ids: np.ndarray, coords: np.ndarray) -> tuple:
    """(ids, coords, folded flags, overlay generation): the version's books, its folded-in ones placed after them."""
    try:
        folded = _read_overlay(version_id, folder)
    except Exception:  # a damaged overlay must not take the map down: the trained books alone
        logger.exception("cannot read the overlay of version %s; mapping its trained books only", version_id)
        return ids, coords, np.zeros(len(ids), dtype=bool), 0
    if not len(folded):
        return ids, coords, np.zeros(len(ids), dtype=bool), folded.generation
    shadowed = np.isin(ids, folded.book_ids)
    book_vectors = np.load(folder / "book_vectors.npy", mmap_mode="r")
    placed = place_folded(book_vectors, coords, folded.vectors, np.flatnonzero(shadowed))
    ids = np.concatenate([ids[~shadowed], folded.book_ids])
    coords = np.concatenate([np.asarray(coords, dtype=np.float32)[~shadowed], placed])
    flags = np.concatenate([np.zeros(int((~shadowed).sum()), dtype=bool), np.ones(len(folded), dtype=bool)])
    return ids, coords, flags, folded.generation


def _records(rows: Iterable[tuple], ids: np.ndarray) -> tuple[np.ndarray, list[tuple]]:
    """Which of the version's ids the catalogue still holds, and their rows without the id, in the ids' order.
    `rows` is the whole table (id first): a filter on 37,020 ids took 7 times as long to answer."""
    wanted = set(ids.tolist())
    by_id = {row[0]: row[1:] for row in rows if row[0] in wanted}
    kept = np.array([int(i) in by_id for i in ids], dtype=bool)
    return kept, [by_id[int(i)] for i in ids[kept]]


def _book_data(ids: np.ndarray) -> tuple[np.ndarray, dict, dict]:
    kept, records = _records(Book.objects.values_list("id", "title", "author", "genre", "country"), ids)
    authors, author_codes = dictionary([author.strip() for _, author, _, _ in records])
    genres, genre_codes = dictionary([genre.strip() for _, _, genre, _ in records])
    parts_of = {genre: genre_parts(genre) for genre in {genre for _, _, genre, _ in records}}  # each text parsed once
    colourings = {
        "genre": colour_groups([parts_of[genre] for _, _, genre, _ in records]),
        "country": colour_groups([[country.strip().lower()] if country.strip() else [] for *_, country in records]),
        "author": colour_groups([[author.strip()] if author.strip() else [] for _, author, _, _ in records]),
    }
    points = {
        "colourings": {name: {"labels": labels, "codes": typed(codes)} for name, (labels, codes) in colourings.items()}
    }
    names = {
        "titles": [title for title, _, _, _ in records],
        "authors": {"values": authors, "codes": typed(author_codes)},
        "genres": {"values": genres, "codes": typed(genre_codes)},
    }
    return kept, points, names


def _link_data(ids: np.ndarray) -> tuple[np.ndarray, dict, dict]:
    kept, records = _records(Link.objects.values_list("id", "name", "book_count"), ids)
    labels, codes = link_groups([count for _, count in records])
    points = {"colourings": {"books": {"labels": labels, "codes": typed(codes)}}}
    names = {
        "titles": [name for name, _ in records],
        "book_counts": typed(np.array([count for _, count in records], dtype=np.uint32)),
    }
    return kept, points, names
