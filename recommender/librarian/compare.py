"""Model versions side by side: what each was trained with and on, how long it took, how it scores against the
baselines and against the active version, and what two versions recommend for the same books.

Plain functions over ModelVersion rows and version folders, so /training/versions/ stays thin and tests call them
directly. Version folders are opened read-only with embeddings.serving.LoadedVersion (numpy and annoy only).
"""

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from embeddings import versions
from embeddings.models import ModelVersion
from embeddings.serving import LoadedVersion, UnknownId
from recommender.catalogue.models import Book

# Metrics in the order of the README's table; any other metric a version stores follows, by name.
KNOWN_METRICS = ("link_auc", "link_auc_same_book", "link_recall@10", "genre_precision@10", "author_recall@10")
BASELINES = (("tfidf", "TF-IDF"), ("popularity", "popularity"))
MAX_BOOKS = 5  # books compared at once
RESULTS_K = 10
DIFF_EPSILON = 5e-4  # metric differences below this (the table shows 3 decimals) are not highlighted


def number(value: object) -> float | None:
    """A finite number, or None (metrics may be null when they cannot be computed)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass
class Cell:
    """One version's value in a row, and how it differs from the active version's."""

    value: object
    delta: float | None = None  # value - active value, for numbers
    differs: bool = False
    better: bool | None = None  # for metrics: higher is better
    baselines: list[tuple[str, float | None]] = field(default_factory=list)


@dataclass
class Row:
    label: str
    cells: list[Cell]
    kind: str = "value"  # "value", "metric", "seconds"


@dataclass
class VersionTable:
    versions: list[ModelVersion]
    active: ModelVersion | None
    sections: list[tuple[str, list[Row]]]


def version_pairs(version: ModelVersion) -> int | None:
    if version.run is not None and version.run.n_pairs is not None:
        return version.run.n_pairs
    split = version.metrics.get("split") or {}
    if "train_pairs" in split and "heldout_pairs" in split:
        return int(split["train_pairs"]) + int(split["heldout_pairs"])
    return None


def version_seconds(version: ModelVersion) -> float | None:
    """The whole run (sampling to indexing) when its run is known, else the training part stored in metrics."""
    run = version.run
    if run is not None and run.started_at and run.finished_at:
        return (run.finished_at - run.started_at).total_seconds()
    return number((version.metrics.get("timing") or {}).get("total_seconds"))


def metric_names(all_versions: list[ModelVersion]) -> list[str]:
    found = {name for v in all_versions for name in v.served_metrics}
    return [m for m in KNOWN_METRICS if m in found] + sorted(found - set(KNOWN_METRICS))


def _value_row(label: str, values: list[object], active_index: int | None, kind: str = "value") -> Row:
    reference = values[active_index] if active_index is not None else None
    cells = []
    for value in values:
        cell = Cell(value)
        if active_index is not None:
            cell.differs = value != reference
            if number(value) is not None and number(reference) is not None:
                cell.delta = number(value) - number(reference)
        cells.append(cell)
    return Row(label, cells, kind)


def _metric_row(name: str, all_versions: list[ModelVersion], active_index: int | None) -> Row:
    values = [number(v.served_metrics.get(name)) for v in all_versions]
    row = _value_row(name, values, active_index, kind="metric")
    for cell, version in zip(row.cells, all_versions, strict=True):
        cell.baselines = [(label, number((version.metrics.get(key) or {}).get(name))) for key, label in BASELINES]
        cell.differs = cell.delta is not None and abs(cell.delta) >= DIFF_EPSILON  # n/a is no difference
        cell.better = cell.delta > 0 if cell.differs else None
    return row


def version_table(all_versions: list[ModelVersion] | None = None) -> VersionTable:
    """Every version (newest first) as columns; rows of hyperparameters, data sizes, duration and metrics."""
    if all_versions is None:
        all_versions = list(ModelVersion.objects.select_related("run"))
    active_index = next((i for i, v in enumerate(all_versions) if v.is_active), None)
    param_names = sorted({name for v in all_versions for name in v.params})
    params = [_value_row(n, [v.params.get(n) for v in all_versions], active_index) for n in param_names]
    data = [
        _value_row("books", [v.n_books for v in all_versions], active_index),
        _value_row("links", [v.n_links for v in all_versions], active_index),
        _value_row("pairs", [version_pairs(v) for v in all_versions], active_index),
    ]
    duration = [_value_row("run seconds", [version_seconds(v) for v in all_versions], active_index, "seconds")]
    for cell in duration[0].cells:  # durations always differ a little: highlight only the metrics and settings
        cell.differs = False
    metrics = [_metric_row(name, all_versions, active_index) for name in metric_names(all_versions)]
    sections = [("Hyperparameters", params), ("Data", data), ("Duration", duration), ("Metrics", metrics)]
    return VersionTable(
        all_versions, all_versions[active_index] if active_index is not None else None, [s for s in sections if s[1]]
    )


# Recommendations of two versions -----------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _open(folder: Path) -> LoadedVersion:
    return LoadedVersion.open(folder)  # version folders never change, so an opened one stays valid


def open_version(version_id: str) -> LoadedVersion:
    """A published version opened for searching (memory maps only); VersionError when it is not on disk."""
    folder = versions.version_path(settings.ARTIFACTS_DIR, version_id)
    if not (folder / "metrics.json").is_file():
        raise versions.VersionError(f"version {version_id} has no files under {folder.parent}")
    return _open(folder.resolve())


@dataclass
class Side:
    version_id: str
    results: list[dict] = field(default_factory=list)  # {id, title, author, similarity, shared}
    problem: str = ""


@dataclass
class BookComparison:
    book: Book
    sides: list[Side]
    overlap: int = 0


def _side(version_id: str, book: Book, k: int) -> Side:
    side = Side(version_id)
    try:
        found = open_version(version_id).similar_books(book.pk, k)
    except UnknownId:
        side.problem = "not in this version (no links, too few, or added after it was trained)"
        return side
    except versions.VersionError as exc:
        side.problem = str(exc)
        return side
    books = Book.objects.only("id", "title", "author").in_bulk([book_id for book_id, _ in found])
    for book_id, similarity in found:
        found_book = books.get(book_id)
        side.results.append(
            {
                "id": book_id,
                "title": found_book.title if found_book else f"(book {book_id}, no longer in the catalogue)",
                "author": found_book.author if found_book else "",
                "similarity": round(float(similarity), 4),
            }
        )
    return side


def compare_recommendations(
    version_a: str, version_b: str, books: list[Book], k: int = RESULTS_K
) -> list[BookComparison]:
    """For each book, the k most similar books by each version; results both versions give are marked `shared`."""
    comparisons = []
    for book in books[:MAX_BOOKS]:
        sides = [_side(version_a, book, k), _side(version_b, book, k)]
        ids = [{r["id"] for r in side.results} for side in sides]
        common = ids[0] & ids[1]
        for side in sides:
            for result in side.results:
                result["shared"] = result["id"] in common
        comparisons.append(BookComparison(book, sides, len(common)))
    return comparisons


def resolve_books(lines: str) -> tuple[list[Book], list[str]]:
    """Books named one a line, by id or by title (best title match); returns (books, lines not found)."""
    books: list[Book] = []
    missing: list[str] = []
    for line in [part.strip() for part in lines.splitlines() if part.strip()][:MAX_BOOKS]:
        book = None
        if line.isdigit():
            book = Book.objects.filter(pk=int(line)).first()
        if book is None:
            book = Book.objects.ranked_search(line[:200]).first()
        if book is None:
            missing.append(line)
        elif book not in books:
            books.append(book)
    return books, missing


def default_books(count: int = 3) -> list[Book]:
    """A few well-linked books, so the comparison shows something before anyone picks."""
    from recommender.front.pages import well_linked_ids

    ids = well_linked_ids()[:count]
    found = Book.objects.in_bulk(ids)
    return [found[i] for i in ids if i in found]
