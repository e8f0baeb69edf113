"""Shared fixtures: the real data under ../shared/data, imports into the test database, a real Celery worker."""

import io
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("SHARED_DATA", ROOT.parent / "shared" / "data"))
WIKIPEDIA = SHARED_DATA / "wikipedia"
GOODBOOKS = SHARED_DATA / "goodbooks"

# Counts of the shared Wikipedia sample after cleaning (both partitions).
SAMPLE_BOOKS = 1780
SAMPLE_LINKS = 38936
SAMPLE_PAIRS = 63773


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


def test_database_url() -> str:
    """A URL for the test database, for processes the test starts (workers, servers)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


test_database_url.__test__ = False  # not a test, despite the name


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def celery_worker_process(transactional_db, artifacts_dir, tmp_path):
    """A real `celery worker` process on the configured broker, reading the test database."""
    from recommender.celery import app

    app.control.purge()  # messages left by an earlier run must not reach this worker
    name = f"test-{uuid.uuid4().hex[:8]}@localhost"
    log = tmp_path / "worker.log"
    env = {**os.environ, "DATABASE_URL": test_database_url(), "ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR)}
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "recommender",
        "worker",
        "--pool=solo",
        "--loglevel=INFO",
        "-n",
        name,
        "--without-gossip",
        "--without-mingle",
    ]
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


# Small and quick: tests of serving need a real trained version, not a good one.
FAST_PARAMS = {"epochs": 6, "dim": 16, "batch_positives": 1024, "seed": 3}


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
