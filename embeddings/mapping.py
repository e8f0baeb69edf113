"""Backfilling maps: give published versions that have no projection one (command `project_version`, task).

Kept apart from jobs.py (training runs) because it touches published versions, which only ever gain files here
(see versions.py). umap-learn is imported by embeddings.projection when a projection runs, never here.
"""

from collections.abc import Callable

from django.db import transaction

from embeddings import projection
from embeddings.models import ModelVersion


class MapError(RuntimeError):
    """A version cannot be projected (unknown, or its folder is gone)."""


def versions_missing_a_map() -> list[ModelVersion]:
    """Versions whose folder exists but holds no map (a version whose folder is gone cannot get one)."""
    return [
        version
        for version in ModelVersion.objects.all()
        if version.path.is_dir() and not projection.has_projection(version.path)
    ]


def project_version(version_id: str, on_progress: Callable[[dict], None] | None = None) -> dict:
    """Project one published version (nothing to do when it has a map); returns its map.json."""
    version = ModelVersion.objects.filter(version_id=version_id).first()
    if version is None:
        raise MapError(f"no version {version_id!r} (python manage.py activate --list)")
    if not version.path.is_dir():
        raise MapError(f"version {version_id}: its folder {version.path} is missing")
    info = projection.backfill(version.path, int(version.params.get("seed", 42)), on_progress)
    with transaction.atomic():  # another backfill may have written metrics meanwhile: merge into fresh ones
        fresh = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if fresh.metrics.get("map") != info:
            fresh.metrics = {**fresh.metrics, "map": info}
            fresh.save(update_fields=["metrics"])
    return info
