"""Training runs and the model versions they produce.

The files of a version live under ARTIFACTS_DIR (see embeddings/versions.py); `active.json` there is what
web processes read. `ModelVersion.is_active` mirrors it for the admin and is switched in the same step.
"""

from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from embeddings import versions


def stale_after() -> timedelta:
    """A running job writes a heartbeat every few seconds; one silent for this long lost its worker.

    settings.TRAINING_STALE_SECONDS (default 90), so tests of a killed worker need not wait long.
    """
    return timedelta(seconds=getattr(settings, "TRAINING_STALE_SECONDS", 90))


class StaleVersion(versions.VersionError):
    """Activation of a version trained on a catalogue that has since been replaced."""


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


IN_PROGRESS = (RunStatus.QUEUED, RunStatus.RUNNING)
# Phases of a run (see embeddings/jobs.py and pipeline.py) and the share of the progress bar each owns.
PHASE_SHARES = {
    "evaluation": (0.0, 0.45),
    "metrics": (0.45, 0.5),
    "final": (0.5, 0.9),
    "indexing": (0.9, 0.93),
    "projection": (0.93, 1.0),
}
STEPPED = {"evaluation", "final", "projection"}


class TrainingRunQuerySet(models.QuerySet):
    def in_progress(self) -> "TrainingRunQuerySet":
        return self.filter(status__in=IN_PROGRESS)

    def stale(self) -> "TrainingRunQuerySet":
        return self.filter(status=RunStatus.RUNNING, heartbeat_at__lt=timezone.now() - stale_after())

    def fail_stale(self) -> int:
        """Mark runs whose worker died as failed; returns how many."""
        count = 0
        for run in self.stale():
            ended = run.finish(RunStatus.FAILED, error="the worker stopped sending heartbeats (it died or was killed)")
            if ended:
                versions.discard_staging(settings.ARTIFACTS_DIR, run.staging_prefix)
            count += ended
        return count


class TrainingRun(models.Model):
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    # True while queued or running, NULL after: a unique constraint on it lets one run at a time exist,
    # enforced by the database even when two requests race.
    slot = models.BooleanField(null=True, default=True, editable=False)
    params = models.JSONField(default=dict)
    n_books = models.PositiveIntegerField(null=True, blank=True)
    n_links = models.PositiveIntegerField(null=True, blank=True)
    n_pairs = models.PositiveIntegerField(null=True, blank=True)
    phase = models.CharField(max_length=40, blank=True)
    epoch = models.PositiveIntegerField(default=0)
    epochs = models.PositiveIntegerField(default=0)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    loss = models.FloatField(null=True, blank=True)
    accuracy = models.FloatField(null=True, blank=True)
    examples_per_second = models.FloatField(null=True, blank=True)
    eta_seconds = models.FloatField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Loss and accuracy written at each epoch end: {"evaluation": [{epoch, loss, accuracy}, ...], "final": [...]}
    curve = models.JSONField(default=dict, blank=True)

    objects = TrainingRunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["slot"], name="one_training_run_at_a_time")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.status})"

    @property
    def staging_prefix(self) -> str:
        return f"run-{self.pk}-"

    @property
    def is_finished(self) -> bool:
        return self.status not in IN_PROGRESS

    @property
    def fraction_done(self) -> float:
        """0..1 over the whole run: each phase owns a share (training the two models dominates)."""
        if self.status == RunStatus.SUCCEEDED:
            return 1.0
        start, end = PHASE_SHARES.get(self.phase, (0.0, 0.0))
        within = min(self.step / self.total_steps, 1.0) if self.total_steps and self.phase in STEPPED else 0.0
        return start + (end - start) * within

    def claim(self) -> bool:
        """Queued -> running, once: a redelivered task message finds nothing to do."""
        now = timezone.now()
        updated = TrainingRun.objects.filter(pk=self.pk, status=RunStatus.QUEUED, cancel_requested=False).update(
            status=RunStatus.RUNNING, started_at=now, heartbeat_at=now
        )
        self.refresh_from_db()
        return updated == 1

    def finish(self, status: str, error: str = "") -> int:
        """Ends an in-progress run; returns 1 if this call ended it."""
        updated = TrainingRun.objects.filter(pk=self.pk, status__in=IN_PROGRESS).update(
            status=status, slot=None, error=error[:10000], finished_at=timezone.now()
        )
        self.refresh_from_db()
        return updated

    def request_cancel(self) -> None:
        TrainingRun.objects.filter(pk=self.pk).update(cancel_requested=True)
        if self.status == RunStatus.QUEUED:
            self.finish(RunStatus.CANCELLED)  # never started: nothing to stop
        self.refresh_from_db()

    def to_dict(self) -> dict:
        version = getattr(self, "version", None)
        return {
            "id": self.pk,
            "status": self.status,
            "phase": self.phase,
            "epoch": self.epoch,
            "epochs": self.epochs,
            "step": self.step,
            "total_steps": self.total_steps,
            "fraction_done": round(self.fraction_done, 4),
            "loss": self.loss,
            "accuracy": self.accuracy,
            "examples_per_second": self.examples_per_second,
            "eta_seconds": self.eta_seconds,
            "params": self.params,
            "catalogue": {"books": self.n_books, "links": self.n_links, "pairs": self.n_pairs},
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "version": version.version_id if version else None,
            "curve": self.curve,
        }


class ModelVersion(models.Model):
    version_id = models.CharField(max_length=64, unique=True)
    run = models.OneToOneField(TrainingRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="version")
    params = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    n_books = models.PositiveIntegerField(default=0)
    n_links = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=False)
    # The catalogue was replaced after training (import_* --replace): its ids are gone, so it cannot be activated.
    stale = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_version")
        ]

    def __str__(self) -> str:
        return self.version_id

    @property
    def path(self):
        return versions.version_path(settings.ARTIFACTS_DIR, self.version_id)

    @property
    def served_metrics(self) -> dict:
        """The metrics of what the version serves; a version from before the served column has the embedding's."""
        return self.metrics.get("served") or self.metrics.get("embedding") or {}

    def activate(self) -> None:
        """Make this the served version: the pointer file is replaced atomically inside the transaction,
        so a failure leaves both the file and the database as they were. A stale version is refused."""
        if ModelVersion.objects.filter(pk=self.pk, stale=True).exists():
            raise StaleVersion(
                f"version {self.version_id} is stale: the catalogue was replaced after it was trained; train a new one"
            )
        with transaction.atomic():
            ModelVersion.objects.filter(is_active=True).exclude(pk=self.pk).update(is_active=False)
            ModelVersion.objects.filter(pk=self.pk).update(is_active=True)
            versions.activate(settings.ARTIFACTS_DIR, self.version_id)
        self.is_active = True

    def to_dict(self) -> dict:
        return {
            "version": self.version_id,
            "active": self.is_active,
            "stale": self.stale,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "books": self.n_books,
            "links": self.n_links,
            "params": self.params,
            "metrics": self.metrics,
        }


class FoldInStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    FOLDED = "folded", "Folded in"
    TRAINED = "trained", "In the version"  # its links are those the version was trained on: nothing to fold
    NO_KNOWN_LINKS = "no_known_links", "No known links"
    FAILED = "failed", "Failed"


class FoldIn(models.Model):
    """The last fold-in asked for one book (embeddings/folding.py): what pages say while it is pending or why none.

    book_id is the catalogue's Book.id as a plain number: embeddings never imports the catalogue.
    """

    book_id = models.BigIntegerField(unique=True)
    version_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=20, choices=FoldInStatus.choices, default=FoldInStatus.QUEUED)
    unknown_link_ids = models.JSONField(default=list, blank=True, help_text="links the version has no vector for")
    n_links = models.PositiveIntegerField(default=0, help_text="known links the vector was folded from")
    seconds = models.FloatField(null=True, blank=True)
    output_layer = models.CharField(max_length=20, blank=True, help_text="saved, or estimated for older versions")
    error = models.TextField(blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-queued_at"]

    def __str__(self) -> str:
        return f"fold-in of book {self.book_id} ({self.status})"

    @property
    def pending(self) -> bool:
        return self.status == FoldInStatus.QUEUED

    def to_dict(self) -> dict:
        return {
            "status": self.status,
            "version": self.version_id or None,
            "unknown_link_ids": self.unknown_link_ids,
            "links_used": self.n_links,
            "seconds": self.seconds,
            "error": self.error or None,
            "queued_at": self.queued_at.isoformat() if self.queued_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }
