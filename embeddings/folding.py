"""Folding books into the active version: queueing (by task name) and the work a worker or `manage.py fold_in` does.

The catalogue reaches this module as plain data, as it reaches training: settings.FOLD_IN_LINKS_LOADER names a
function (book ids) -> {book id: [link ids]} holding every asked book that still exists (recommender.catalogue.
frames.load_book_links), and FOLD_IN_LABELS_LOADER one giving their (author, series), kept in the overlay normalised
as training normalises them (the served ranking's series and author terms), so embeddings never imports the web
apps. Each book's state is a FoldIn row (pages read it: pending, folded, why not); its vector goes to the version's
overlay (embeddings/overlay.py).
"""

import logging
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from embeddings import overlay, versions
from embeddings.chunking import chunks
from embeddings.fold_in import FoldInModel, FoldInUnavailable
from embeddings.labels import normalise_author, normalise_series
from embeddings.models import FoldIn, FoldInStatus

logger = logging.getLogger(__name__)

FOLD_TASK = "embeddings.fold_in"  # the name tasks.fold_in is registered under
TASK_BOOKS = 500  # books per task message: an import of many books becomes several tasks
FOLD_COMMAND = "python manage.py fold_in"

_models: dict[Path, FoldInModel] = {}
_models_lock = threading.Lock()


def fold_in_model(folder: Path) -> FoldInModel:
    """The FoldInModel of a version folder, opened once per process (version folders never change)."""
    folder = Path(folder)
    with _models_lock:
        model = _models.get(folder)
        if model is None:
            if len(_models) >= 2:
                _models.clear()
            model = _models[folder] = FoldInModel.open(folder)
        return model


def queue(book_ids: Iterable[int]) -> str:
    """Mark books pending and hand them to a worker (after the caller's transaction commits); returns what
    happened, for the admin's message or the import's summary."""
    ids = sorted({int(i) for i in book_ids})
    if not ids:
        return ""
    version_id = versions.active_version_id(settings.ARTIFACTS_DIR)
    if version_id is None:
        return "no model version is active: the first training run will include these books"
    now = timezone.now()
    FoldIn.objects.bulk_create(
        [FoldIn(book_id=i, version_id=version_id, status=FoldInStatus.QUEUED, queued_at=now) for i in ids],
        update_conflicts=True,
        unique_fields=["book_id"],
        update_fields=["version_id", "status", "queued_at", "error"],
        batch_size=1000,
    )
    transaction.on_commit(lambda: _send(ids))
    return f"fold-in of {len(ids)} book(s) queued"


def _send(ids: list[int]) -> None:
    try:
        for chunk in chunks(ids, TASK_BOOKS):
            current_app.send_task(FOLD_TASK, args=[chunk], ignore_result=True)
    except Exception as exc:  # broker down: say so on the book's page, with what to run by hand
        logger.warning("could not queue the fold-in of %d book(s)", len(ids), exc_info=True)
        FoldIn.objects.filter(book_id__in=ids, status=FoldInStatus.QUEUED).update(
            status=FoldInStatus.FAILED,
            error=f"could not queue the fold-in ({exc}); run {FOLD_COMMAND} {' '.join(map(str, ids[:20]))}",
            finished_at=timezone.now(),
        )


def fold_books(book_ids: Iterable[int]) -> list[FoldIn]:
    """Fold these books into the active version's overlay now; returns their FoldIn rows.

    A book that no longer exists is taken out of the overlay (its row deleted). One whose links are exactly those
    the version was trained on needs no fold-in (status "trained", out of the overlay). One with no link the
    version knows gets no vector ("no_known_links"). Every other book is folded; links the version does not know
    are ignored and listed (unknown_link_ids), except those it dropped as rare that its books share, which are used
    (embeddings/rare_links.py). Raises FoldInUnavailable when no usable version is active.
    """
    ids = sorted({int(i) for i in book_ids})
    root = Path(settings.ARTIFACTS_DIR)
    version_id = versions.active_version_id(root)
    if version_id is None:
        raise FoldInUnavailable(f"no model version is active: train one first ({'python manage.py train --wait'})")
    model = fold_in_model(versions.version_path(root, version_id))
    links = import_string(settings.FOLD_IN_LINKS_LOADER)(ids)
    labels = import_string(settings.FOLD_IN_LABELS_LOADER)([i for i in ids if i in links])
    folded: dict[int, tuple] = {}
    removed: set[int] = set()
    states: dict[int, dict] = {}
    now = timezone.now()
    for book_id in ids:
        if book_id not in links:
            removed.add(book_id)
            continue
        started = time.perf_counter()
        rows, unknown = model.link_rows(links[book_id])
        trained = model.trained_link_rows(book_id)
        state = {"unknown_link_ids": unknown, "n_links": len(rows), "output_layer": model.output_source}
        if trained is not None and len(rows) and len(trained) == len(rows) and bool((trained == rows).all()):
            removed.add(book_id)
            states[book_id] = {**state, "status": FoldInStatus.TRAINED, "seconds": None}
            continue
        result = model.fold(links[book_id], book_id)
        if result.vector is None:
            removed.add(book_id)
            states[book_id] = {**state, "status": FoldInStatus.NO_KNOWN_LINKS, "seconds": None}
            continue
        seconds = time.perf_counter() - started
        # links dropped from the version as rare but shared with its books are used (embeddings/rare_links.py)
        used = set(result.rare_link_ids)
        unknown = [i for i in unknown if i not in used]
        state["unknown_link_ids"] = unknown
        info = {"unknown_links": unknown, "n_links": len(rows), "folded_at": now.isoformat(), "loss": result.loss}
        author, series = labels.get(book_id, ("", ""))
        info |= {"author": normalise_author(author), "series": normalise_series(series)}  # as training codes them
        info["rare_links"] = result.rare_link_ids
        folded[book_id] = (result.vector, result.tfidf_columns, info)
        states[book_id] = {**state, "status": FoldInStatus.FOLDED, "seconds": seconds}
    overlay.change(root, version_id, model.dim, folded, removed)
    FoldIn.objects.filter(book_id__in=[i for i in ids if i not in links]).delete()
    rows = []
    for book_id, state in states.items():
        rows.append(FoldIn(book_id=book_id, version_id=version_id, finished_at=timezone.now(), error="", **state))
    FoldIn.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["book_id"],
        update_fields=[
            "version_id",
            "status",
            "unknown_link_ids",
            "n_links",
            "seconds",
            "output_layer",
            "error",
            "finished_at",
        ],
        batch_size=1000,
    )
    return list(FoldIn.objects.filter(book_id__in=list(states)).order_by("book_id"))


def fold_task(book_ids: list[int]) -> dict:
    """What the Celery task runs: fold, or record why not on every book's row."""
    try:
        found = fold_books(book_ids)
    except Exception as exc:
        logger.exception("fold-in of %d book(s) failed", len(book_ids))
        FoldIn.objects.filter(book_id__in=book_ids).update(
            status=FoldInStatus.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        return {"books": len(book_ids), "error": str(exc)}
    return {"books": len(book_ids), "folded": sum(f.status == FoldInStatus.FOLDED for f in found)}


def refold_after_training(version_id: str) -> list[FoldIn]:
    """After a new version is activated: every book folded into (or pending for) an older version is folded into
    this one. Books the new version was trained on become "trained" and leave the overlay: they disappear into it."""
    ids = list(
        FoldIn.objects.exclude(version_id=version_id)
        .filter(status__in=[FoldInStatus.QUEUED, FoldInStatus.FOLDED, FoldInStatus.FAILED])
        .values_list("book_id", flat=True)
    )
    return fold_books(ids) if ids else []
