"""Fold-in from the catalogue's side: what to fold after an admin save or an import, and each book's vector state
for the API, the pages and /training/. The folding itself is embeddings/folding.py (a worker runs it)."""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings

from embeddings import folding
from embeddings.models import FoldIn, FoldInStatus
from embeddings.serving import get_active
from recommender import workers
from recommender.catalogue.models import Book, Link

TRAINED = "trained"
FOLDED_IN = "folded_in"
PENDING = "pending"
NONE = "none"


def queue_books(book_ids: Iterable[int]) -> str:
    """Queue a fold-in of these books for a worker; the message says what to do when no worker is running."""
    ids = sorted({int(i) for i in book_ids})
    message = folding.queue(ids)
    if message.endswith("queued") and not workers.status().get("count"):
        shown = " ".join(map(str, ids[:20])) + (" ..." if len(ids) > 20 else "")
        message += f", but no worker is running: start one or run {folding.FOLD_COMMAND} {shown}"
    return message


def missing_book_ids() -> list[int]:
    """Linked books the active version (with its folded-in books) has no vector for, plus pending fold-ins."""
    version = get_active(settings.ARTIFACTS_DIR)
    if version is None:
        return []
    linked = Book.objects.linked().filter(book_links__isnull=False).distinct().values_list("id", flat=True)
    missing = {i for i in linked if not version.knows_book(i)}
    pending = FoldIn.objects.filter(status__in=[FoldInStatus.QUEUED, FoldInStatus.FAILED])
    return sorted(missing | set(pending.values_list("book_id", flat=True)))


@dataclass
class VectorState:
    """Where a book's vector comes from in the served version, for the API and the pages."""

    state: str  # TRAINED, FOLDED_IN, PENDING or NONE
    unknown_links: list[Link] = field(default_factory=list)  # links the version does not know (ignored)
    error: str = ""
    worker_running: bool = True

    @property
    def folded_in(self) -> bool:
        return self.state == FOLDED_IN

    @property
    def pending(self) -> bool:
        return self.state == PENDING

    def to_json(self) -> dict:
        return {
            "state": self.state,
            "folded_in": self.folded_in,
            "unknown_links": [link.name for link in self.unknown_links],
            "error": self.error or None,
        }


def vector_state(book: Book) -> VectorState:
    version = get_active(settings.ARTIFACTS_DIR)
    record = FoldIn.objects.filter(book_id=book.pk).first()
    unknown = list(Link.objects.filter(pk__in=record.unknown_link_ids).order_by("name")) if record else []
    if record is not None and record.pending:
        return VectorState(PENDING, unknown, worker_running=bool(workers.status().get("count")))
    error = record.error if record is not None and record.status == FoldInStatus.FAILED else ""
    if version is not None and version.is_folded_in(book.pk):
        return VectorState(FOLDED_IN, unknown, error)
    if version is not None and version.knows_book(book.pk):
        return VectorState(TRAINED, unknown, error)
    return VectorState(NONE, unknown, error)


def folded_in_ids(book_ids: Iterable[int]) -> set[int]:
    """Which of these books the served version holds as folded in (the "folded in" mark of result lists)."""
    version = get_active(settings.ARTIFACTS_DIR)
    if version is None or not len(version.overlay):
        return set()
    return {i for i in book_ids if version.is_folded_in(i)}


def overview(limit: int = 50) -> dict:
    """For /training/: the active version's folded-in books, the pending and the failed fold-ins."""
    version = get_active(settings.ARTIFACTS_DIR)
    folded = list(version.overlay.book_ids[:limit]) if version is not None else []
    titles = dict(Book.objects.filter(pk__in=[int(i) for i in folded]).values_list("id", "title"))
    records = {r.book_id: r for r in FoldIn.objects.filter(book_id__in=[int(i) for i in folded])}
    return {
        "version": version.version_id if version is not None else None,
        "count": len(version.overlay) if version is not None else 0,
        "books": [
            {"id": int(i), "title": titles.get(int(i), f"book {i}"), "record": records.get(int(i))} for i in folded
        ],
        "pending": FoldIn.objects.filter(status=FoldInStatus.QUEUED).count(),
        "failed": list(FoldIn.objects.filter(status=FoldInStatus.FAILED)[:limit]),
    }
