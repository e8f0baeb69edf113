"""Shared fixtures: the real data under ../shared/data, imports into the test database, a real Celery worker."""

import io
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.browser import browser, other_origin, page, site  # noqa: F401 (fixtures for the browser tests)
from tests.helpers import FAST_PARAMS, ROOT, WIKIPEDIA, test_database_url, wait_for

# Tests that use these fixtures start a worker or train a model first: marked slow, so `pytest -m "not slow"` is
# the quick loop (test modules that train or drive a browser carry the mark themselves).
SLOW_FIXTURES = {"celery_worker_process", "trained_catalogue"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_configure(config) -> None:
    """The folders settings name (the SQLite file's, the file broker's): importing settings creates none."""
    from recommender.local_dirs import create_local_dirs

    create_local_dirs()


@pytest.fixture(autouse=True, scope="session")
def isolated_artifacts(tmp_path_factory):
    """Model versions written by tests go to a temporary ARTIFACTS_DIR, never the checkout's var/."""
    from django.test import override_settings

    with override_settings(ARTIFACTS_DIR=tmp_path_factory.mktemp("artifacts")):
        yield


@pytest.fixture
def artifacts_dir(settings, tmp_path) -> Path:
    """A fresh, empty ARTIFACTS_DIR for one test."""
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.ARTIFACTS_DIR.mkdir()
    return settings.ARTIFACTS_DIR


@pytest.fixture
def wikipedia_dir() -> Path:
    if not WIKIPEDIA.is_dir():
        pytest.fail(f"shared data missing: {WIKIPEDIA}")
    return WIKIPEDIA


@pytest.fixture
def sample_catalogue(db, wikipedia_dir):
    """The Wikipedia sample imported (both partitions, with book_info.tsv merged)."""
    call_command("import_books", str(wikipedia_dir), stdout=io.StringIO(), stderr=io.StringIO())


@pytest.fixture
def celery_worker_process(transactional_db, artifacts_dir, tmp_path):
    """A real `celery worker` process on the configured broker, reading the test database."""
    from recommender.celery import app, worker_command

    app.control.purge()  # messages left by an earlier run must not reach this worker
    name = f"test-{uuid.uuid4().hex[:8]}@localhost"
    log = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": test_database_url(), "ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR)}
    command = worker_command("--pool=solo", "-n", name, "--without-gossip", "--without-mingle")
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(
            lambda: process.poll() is not None or app.control.ping(destination=[name], timeout=0.5),
            60,
            "the worker to answer",
        )
        if process.poll() is not None:
            raise AssertionError(f"worker exited:\n{log.read_text()}")
        process.log_path = log
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def trained_catalogue(django_db_setup, django_db_blocker, tmp_path_factory):
    """The sample imported and a model trained on it, shared by a module's tests (each still rolls back).

    Committed outside the tests' transactions, and deleted at the end of the module: modules using it must
    not also hold transactional tests, which would flush it.
    """
    from django.test import override_settings

    from embeddings import jobs
    from embeddings.models import ModelVersion, RunStatus, TrainingRun
    from recommender.catalogue.models import Book, Link

    artifacts = tmp_path_factory.mktemp("trained")
    with django_db_blocker.unblock(), override_settings(ARTIFACTS_DIR=artifacts):
        call_command("import_books", str(WIKIPEDIA), stdout=io.StringIO(), stderr=io.StringIO())
        run = jobs.execute(jobs.start_training(FAST_PARAMS, enqueue=False).pk)
        assert run.status == RunStatus.SUCCEEDED, run.error
        try:
            yield run.version
        finally:
            ModelVersion.objects.all().delete()
            TrainingRun.objects.all().delete()
            Book.objects.all().delete()
            Link.objects.all().delete()
