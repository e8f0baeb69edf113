"""The Celery application: broker and result store come from settings (Redis or files under var/)."""

import os
import sys

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")

app = Celery("recommender")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def worker_command(*options: str) -> list[str]:
    """The command line of a Celery worker of this project (`make run` and the tests start one)."""
    return [sys.executable, "-m", "celery", "-A", "recommender", "worker", "--loglevel=INFO", *options]


@signals.worker_init.connect
def create_worker_dirs(**_) -> None:
    from recommender.local_dirs import create_local_dirs  # settings are only read once the worker starts

    create_local_dirs()


@app.on_after_configure.connect
def schedule_retraining(sender: Celery, **kwargs) -> None:
    """RETRAIN_SCHEDULE as a beat entry (read by `celery beat` only; see recommender/librarian/schedule.py)."""
    from django.conf import settings

    from recommender.librarian.schedule import beat_schedule

    sender.conf.beat_schedule = {**(sender.conf.beat_schedule or {}), **beat_schedule(settings.RETRAIN_SCHEDULE)}


# Workers write heartbeats that /healthz reads (recommender/workers.py).
from recommender.workers import connect_signals  # noqa: E402

connect_signals()
