"""The task celery beat sends when RETRAIN_SCHEDULE is on (see recommender/librarian/schedule.py)."""

import logging

from celery import shared_task

from embeddings import jobs
from recommender.librarian.schedule import TASK_NAME

logger = logging.getLogger(__name__)


@shared_task(name=TASK_NAME)
def retrain() -> dict:
    """Queue a run with the default hyperparameters; while one is queued or running, log and skip (no failure)."""
    try:
        run = jobs.start_training({})
    except jobs.RunRefused as exc:
        logger.info("scheduled retraining skipped: %s", exc)
        return {"started": False, "reason": str(exc)}
    logger.info("scheduled retraining: run %s queued", run.pk)
    return {"started": True, "run": run.pk}
