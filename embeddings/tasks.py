"""Celery tasks of the embeddings app. TensorFlow is imported by the task body, never at module level."""

from celery import shared_task

from embeddings import jobs


@shared_task(name=jobs.TRAIN_TASK, acks_late=True, ignore_result=True)
def train_model(run_id: int) -> dict:
    run = jobs.execute(run_id)
    return {"run": run.pk, "status": run.status}


@shared_task(name="embeddings.project_version", acks_late=True, ignore_result=True)
def project_version(version_id: str) -> dict:
    """The map of a version trained before maps existed (umap-learn is imported inside, in the worker)."""
    from embeddings import mapping

    return {"version": version_id, "map": mapping.project_version(version_id)}


@shared_task(name="embeddings.fold_in", acks_late=True, ignore_result=True)
def fold_in(book_ids: list[int]) -> dict:
    """Vectors for books added or edited since the active version was trained (numpy; no TensorFlow)."""
    from embeddings import folding

    return folding.fold_task(book_ids)
