"""Celery tasks of the embeddings app. TensorFlow is imported by the task body, never at module level."""

from celery import shared_task

from embeddings import jobs


@shared_task(name="embeddings.train", acks_late=True)
def train_model(run_id: int) -> dict:
    run = jobs.execute(run_id)
    return {"run": run.pk, "status": run.status}
