"""Starting, running, following and cancelling training runs; the Celery task in tasks.py only calls `execute`.

Nothing here imports TensorFlow at module level: `execute` reaches it through embeddings.pipeline when it runs.

The catalogue comes in as plain data: `execute` calls the function settings.TRAINING_FRAMES_LOADER names (a dotted
path resolved with import_string; the project sets recommender.catalogue.frames.load_frames), which returns the
frames (books: id, title, author, genre; pairs: book_id, link_id). So embeddings never imports the web apps.
Runs are queued by task name (TRAIN_TASK), so this module does not import tasks.py, which imports it.
"""

import logging
import math
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from celery import current_app
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from embeddings import versions
from embeddings.models import ModelVersion, RunStatus, TrainingRun, stale_after

if TYPE_CHECKING:
    from embeddings.dataset import TrainingData

logger = logging.getLogger(__name__)

PROGRESS_EVERY = 0.5  # seconds between progress writes: at least one a second reaches the database
HEARTBEAT_EVERY = 5.0  # seconds; at most a third of stale_after() in models.py (see _RunReporter._beat)
CANCEL_CHECK_EVERY = 0.5
TRAIN_TASK = "embeddings.train"  # the name tasks.train_model is registered under


class RunRefused(Exception):
    """A run was asked for while another is queued or running."""


class QueueUnavailable(RunRefused):
    """The broker (Redis) could not take the run: it was marked failed and nothing runs."""


def start_training(params: dict, *, enqueue: bool = True) -> TrainingRun:
    """Create a queued run (refused while another is in progress) and hand it to a worker."""
    TrainingRun.objects.fail_stale()
    try:
        with transaction.atomic():
            run = TrainingRun.objects.create(params=params)
    except IntegrityError:
        current = TrainingRun.objects.in_progress().first()
        raise RunRefused(
            f"training run {current.pk if current else '?'} is already {current.status if current else 'in progress'};"
            " wait for it to finish or cancel it first"
        ) from None
    if enqueue:
        try:
            # the run's state lives in the database: no result to store, so no subscription to the result store
            result = current_app.send_task(TRAIN_TASK, args=[run.pk], ignore_result=True)
        except Exception as exc:  # broker down: the run must not hold the slot forever
            run.finish(RunStatus.FAILED, error=f"could not queue the run: {exc}")
            raise QueueUnavailable(
                f"could not queue the run: the broker is unreachable ({exc}); try again when it is back"
            ) from exc
        TrainingRun.objects.filter(pk=run.pk).update(task_id=result.id)
    return run


class _RunReporter:
    """Progress, heartbeat and cancel checks of one run, rate-limited so the database sees a few writes a second."""

    def __init__(self, run: TrainingRun, listener: Callable[[dict], None] | None = None) -> None:
        self.run = run
        self.listener = listener
        self._last_write = 0.0
        self.curve: dict[str, list[dict]] = {}
        self._last_cancel_check = 0.0
        self._cancelled = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run.pk}", daemon=True)

    def __enter__(self) -> "_RunReporter":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=1)  # a daemon thread: never hold up the end of a run

    def _beat(self) -> None:
        # its own thread, so heartbeats continue while a long step (metrics, indexing) runs
        try:
            every = min(HEARTBEAT_EVERY, stale_after().total_seconds() / 3)
            while not self._stop.wait(every):
                try:
                    TrainingRun.objects.filter(pk=self.run.pk).update(heartbeat_at=timezone.now())
                except DatabaseError:  # a locked or lost database: try again at the next beat
                    logger.warning("heartbeat of run %s not written", self.run.pk, exc_info=True)
        finally:
            connection.close()

    def progress(self, info: dict) -> None:
        now = time.monotonic()
        phase_changed = info.get("phase") != self.run.phase
        if not phase_changed and now - self._last_write < PROGRESS_EVERY and not info.get("epoch_end"):
            return
        self._last_write = now
        fields = {"heartbeat_at": timezone.now(), "phase": info.get("phase", self.run.phase) or ""}
        for key in ("epoch", "epochs", "step", "total_steps"):
            if info.get(key) is not None:
                fields[key] = int(info[key])
        for key in ("loss", "accuracy", "examples_per_second", "eta_seconds"):
            if key in info:
                fields[key] = None if info[key] is None else float(info[key])
        if info.get("epoch_end"):
            fields["curve"] = self._add_to_curve(fields["phase"], info)
        TrainingRun.objects.filter(pk=self.run.pk).update(**fields)
        self.run.phase = fields["phase"]
        if self.listener is not None:
            self.listener(fields)

    def _add_to_curve(self, phase: str, info: dict) -> dict:
        """The run's curve with this epoch's point appended; the whole (small) dict is written back each epoch."""
        point = {"epoch": int(info.get("epoch") or 0)}
        for key in ("loss", "accuracy"):
            value = info.get(key)
            point[key] = float(value) if value is not None and math.isfinite(value) else None  # never NaN
        self.curve.setdefault(phase or "training", []).append(point)
        return self.curve

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if not self._cancelled and now - self._last_cancel_check >= CANCEL_CHECK_EVERY:
            self._last_cancel_check = now
            self._cancelled = TrainingRun.objects.filter(pk=self.run.pk, cancel_requested=True).exists()
        return self._cancelled


def publish_and_activate(
    run: TrainingRun, staging: Path, version_id: str, params: dict, data: "TrainingData", metrics: dict
) -> Path:
    """Rename the staging folder into versions/, register it and activate it, all or nothing.

    The row and the pointer are written in one transaction after the rename: if either fails, the transaction
    rolls back and the renamed folder is removed here, so a failed run leaves no version behind.
    """
    folder = versions.publish(settings.ARTIFACTS_DIR, staging, version_id)
    try:
        with transaction.atomic():
            version = ModelVersion.objects.create(
                version_id=version_id,
                run=run,
                params={**params, "min_link_count": data.min_link_count},
                metrics=versions.json_safe(metrics),
                n_books=data.n_books,
                n_links=data.n_links,
            )
            version.activate()
    except BaseException:
        versions.discard(folder)
        raise
    return folder


def _refold(version_id: str) -> None:
    """Books folded into the previous version: into the new one, or gone into it when it was trained on them."""
    from embeddings.folding import refold_after_training

    try:
        refold_after_training(version_id)
    except Exception:  # the version is served either way; the books can be folded by hand (manage.py fold_in)
        logger.exception("folding the books added during the run into %s failed", version_id)


def execute(run_id: int, listener: Callable[[dict], None] | None = None) -> TrainingRun:
    """Train, evaluate, index and publish a version for a queued run; activate it only when all is written.

    `listener` gets every progress update written to the run (the in-process progress bar of `train --inline`).
    A failure or a cancel discards the staging folder: the active version is never touched.
    """
    from embeddings.dataset import build_training_data
    from embeddings.params import TrainParams
    from embeddings.pipeline import run as run_pipeline
    from embeddings.training import TrainingCancelled

    run = TrainingRun.objects.get(pk=run_id)
    if not run.claim():
        logger.info("run %s is %s: nothing to do", run_id, run.status)
        return run
    root = settings.ARTIFACTS_DIR
    staging = versions.make_staging_dir(root, prefix=run.staging_prefix)
    try:
        with _RunReporter(run, listener) as reporter:
            params = TrainParams.from_dict(run.params)
            reporter.progress({"phase": "sampling"})
            books, pairs = import_string(settings.TRAINING_FRAMES_LOADER)()
            data = build_training_data(books, pairs, params.min_link_count)
            params = params.resolved(data.n_pairs)
            if data.n_books == 0 or data.n_links == 0:
                raise ValueError(
                    f"nothing to train on: {len(books)} books with links, none with a link used by at least "
                    f"{data.min_link_count} books; import books first (python manage.py import_books ...)"
                )
            TrainingRun.objects.filter(pk=run.pk).update(
                n_books=data.n_books,
                n_links=data.n_links,
                n_pairs=data.n_pairs,
                params={**params.to_dict(), "min_link_count": data.min_link_count},
            )
            metrics = run_pipeline(data, params, staging, reporter.progress, reporter.should_cancel)
            if reporter.should_cancel():
                raise TrainingCancelled("cancelled before publishing")
            version_id = versions.new_version_id()
            publish_and_activate(run, staging, version_id, params.to_dict(), data, metrics)
        run.finish(RunStatus.SUCCEEDED)
        _refold(version_id)
        logger.info("run %s produced version %s", run.pk, version_id)
    except TrainingCancelled:
        versions.discard(staging)
        run.finish(RunStatus.CANCELLED)
    except Exception as exc:
        versions.discard(staging)
        logger.exception("run %s failed", run.pk)
        run.finish(RunStatus.FAILED, error=f"{type(exc).__name__}: {exc}\n\n{traceback.format_exc(limit=8)}")
    return run
