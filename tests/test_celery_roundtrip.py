"""A real worker process on the configured broker (Redis in CI) runs a task and its result comes back."""

import os

import pytest
from django.conf import settings

from recommender.catalogue.models import Book
from recommender.tasks import ping

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_runs_a_task(celery_worker_process):
    Book.objects.create(title="Round Trip")
    result = ping.delay().get(timeout=60)
    assert result["pong"] is True
    assert result["books"] == 1  # the worker read the test database
    if os.environ.get("REDIS_URL"):
        assert settings.CELERY_BROKER_URL.startswith("redis://")
