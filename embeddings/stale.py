"""Versions trained on a catalogue that has since been replaced (`import_* --replace`).

Their vectors belong to book ids that no longer exist: they are marked stale, which refuses their activation and
shows them as such. The catalogue reaches this module as plain ids (embeddings never imports the web app).
"""

from collections.abc import Iterable

import numpy as np
from django.conf import settings

from embeddings import versions
from embeddings.models import ModelVersion


def mark_stale_versions(catalogue_book_ids: Iterable[int]) -> list[str]:
    """Mark every version with a book id missing from the catalogue as stale; returns their ids."""
    existing = np.fromiter(catalogue_book_ids, dtype=np.int64)
    marked = []
    for version in ModelVersion.objects.filter(stale=False):
        try:
            ids = np.load(versions.version_path(settings.ARTIFACTS_DIR, version.version_id) / "book_ids.npy")
        except (OSError, ValueError, versions.VersionError):
            continue  # no files to judge by; activation refuses it anyway
        if not np.isin(ids, existing).all():
            marked.append(version.version_id)
    ModelVersion.objects.filter(version_id__in=marked).update(stale=True)
    return marked
