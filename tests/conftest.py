"""Shared fixtures: the real data under ../shared/data, imports into the test database, a real Celery worker."""

import io
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.browser import browser, other_origin, page, site  # noqa: F401 (fixtures for the browser tests)
from tests.helpers import MAPPED_PARAMS, ROOT, WIKIPEDIA, forget_cached_answers, test_database_url, wait_for

# Tests that use these fixtures start a worker or train a model first: marked slow, so `pytest -m "not slow"` is
# the quick loop (test modules that train or drive a browser carry the mark themselves).
SLOW_FIXTURES = {"celery_worker_process", "trained_catalogue", "trained_snapshot", "trained_sample"}


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
def keep_test_connection():
    """For tests that call a WSGI app directly: as django.test.Client does, a request must not close the test's
    database connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def wikipedia_dir() -> Path:
    if not WIKIPEDIA.is_dir():
        pytest.fail(f"shared data missing: {WIKIPEDIA}")
    return WIKIPEDIA


@pytest.fixture(scope="session")
def sample_snapshot(django_db_setup, django_db_blocker, tmp_path_factory) -> dict[type, bytes | list]:
    """The Wikipedia sample imported once per session (both partitions, with book_info.tsv merged), its rows kept
    (see _dump_rows) and the tables emptied again: an import costs about 5 s, a restore of its rows about 1.5 s."""
    from django.db import connections
    from django.test import override_settings

    if not WIKIPEDIA.is_dir():
        pytest.fail(f"shared data missing: {WIKIPEDIA}")
    # no active version there: the import queues no fold-ins (rows and messages these tables do not hold)
    with django_db_blocker.unblock(), override_settings(ARTIFACTS_DIR=tmp_path_factory.mktemp("no-version")):
        connections.close_all()  # as in trained_snapshot: not inside a transaction an earlier test left open
        call_command("import_books", str(WIKIPEDIA), stdout=io.StringIO(), stderr=io.StringIO())
        rows = {model: _dump_rows(model) for model in _catalogue_models()}
        _delete_rows(_catalogue_models())
    return rows


@pytest.fixture
def sample_catalogue(db, sample_snapshot):
    """The Wikipedia sample imported (both partitions, with book_info.tsv merged): the session's import restored
    into this test's database (rolled back or flushed after it, as the test's own writes are)."""
    from recommender.api import caching
    from recommender.catalogue.snapshot import holder

    _restore_snapshot(sample_snapshot)
    caching.local.clear()  # as an import's saves would: nothing this process built from an earlier catalogue
    holder.forget()


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


@dataclass
class TrainedSnapshot:
    """The sample imported and one model trained on it, kept outside the database between modules."""

    artifacts: Path
    # model class -> its rows, in an order that satisfies foreign keys: PostgreSQL's binary COPY of the table,
    # else the instances
    rows: dict[type, bytes | list]
    version_id: str


@pytest.fixture(scope="session")
def trained_snapshot(sample_snapshot, django_db_setup, django_db_blocker, tmp_path_factory) -> TrainedSnapshot:
    """Train once per session on the imported sample (with the map's projection, the slow part), then empty the
    tables again."""
    from django.db import connections
    from django.test import override_settings

    from embeddings import jobs
    from embeddings.models import RunStatus

    artifacts = tmp_path_factory.mktemp("trained-once")
    with django_db_blocker.unblock(), override_settings(ARTIFACTS_DIR=artifacts):
        # A fresh connection: one an earlier test left inside a transaction made the whole import one transaction,
        # whose deferred foreign-key checks then took 80-130 s at its COMMIT.
        connections.close_all()
        _restore_snapshot(sample_snapshot)
        run = jobs.execute(jobs.start_training(MAPPED_PARAMS, enqueue=False).pk)
        assert run.status == RunStatus.SUCCEEDED, run.error
        version_id = run.version.version_id
        rows = {model: _dump_rows(model) for model in _snapshot_models()}
        _delete_rows(_snapshot_models())
    return TrainedSnapshot(artifacts=artifacts, rows=rows, version_id=version_id)


def _catalogue_models() -> list[type]:
    from recommender.catalogue.models import Book, BookLink, Link

    return [Book, Link, BookLink]


def _snapshot_models() -> list[type]:
    from embeddings.models import ModelVersion, TrainingRun

    return [*_catalogue_models(), TrainingRun, ModelVersion]


def _delete_rows(models: list[type]) -> None:
    """TRUNCATE on PostgreSQL (the ORM's cascading delete of 100k rows takes tens of seconds), DELETE elsewhere."""
    from django.core.management.color import no_style
    from django.db import connection

    tables = [model._meta.db_table for model in models]
    connection.ops.execute_sql_flush(connection.ops.sql_flush(no_style(), tables, allow_cascade=True))


def _copy_statement(model: type, direction: str) -> str:
    from django.db import connection

    columns = ", ".join(connection.ops.quote_name(field.column) for field in model._meta.concrete_fields)
    return f"COPY {model._meta.db_table} ({columns}) {direction} (FORMAT BINARY)"


def _dump_rows(model: type) -> bytes | list:
    """A table's rows, kept to be restored by each module: PostgreSQL's binary COPY (restored in a fraction of a
    second, where converting 100k instances field by field took about 3 s a module), else the instances."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return list(model.objects.order_by("pk"))
    with connection.cursor() as cursor, cursor.cursor.copy(_copy_statement(model, "TO STDOUT")) as copy:
        return b"".join(bytes(block) for block in copy)


def _restore_snapshot(rows: dict[type, bytes | list]) -> None:
    """Every table's rows back, then each id sequence past them (a `flush` since the import restarted them)."""
    from django.core.management.color import no_style
    from django.db import connection

    for model, kept in rows.items():
        _restore_rows(model, kept)
    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), list(rows)):
            cursor.execute(statement)


def _restore_rows(model: type, rows: bytes | list) -> None:
    """Rows back with their ids: binary COPY on PostgreSQL, bulk_create elsewhere."""
    from django.db import connection

    if isinstance(rows, list):
        model.objects.bulk_create(rows, batch_size=2000)
        return
    with connection.cursor() as cursor, cursor.cursor.copy(_copy_statement(model, "FROM STDIN")) as copy:
        copy.write(rows)


@pytest.fixture(scope="module")
def trained_catalogue(trained_snapshot, django_db_blocker, tmp_path_factory):
    """The snapshot restored for one module (same ids, a private copy of its files); each test still rolls back.

    Committed outside the tests' transactions, and deleted at the end of the module. A transactional test's flush
    empties it: transactional tests of such a module take committed_catalogue instead.
    """
    from django.db import connections
    from django.test import override_settings

    from embeddings.models import ModelVersion

    artifacts = tmp_path_factory.mktemp("trained")
    shutil.copytree(trained_snapshot.artifacts, artifacts, symlinks=True, dirs_exist_ok=True)
    with django_db_blocker.unblock(), override_settings(ARTIFACTS_DIR=artifacts):
        forget_cached_answers(trained_snapshot.version_id)  # an earlier module served the same version and ids
        connections.close_all()  # as in trained_snapshot: not inside a transaction an earlier test left open
        _restore_snapshot(trained_snapshot.rows)
        try:
            yield ModelVersion.objects.get(version_id=trained_snapshot.version_id)
        finally:
            _delete_rows(_snapshot_models())


@pytest.fixture
def committed_catalogue(transactional_db, trained_catalogue, trained_snapshot):
    """trained_catalogue for a test without a surrounding transaction, for tests whose other connections (a live
    server's thread, the web server) write while they run: under SQLite the test's transaction (BEGIN IMMEDIATE) would
    hold the one write lock, and those writes would fail with "database is locked". Pytest-django runs such tests after
    the others and flushes every table after each: the rows are put back if an earlier one's flush removed them."""
    from embeddings.models import ModelVersion

    if not ModelVersion.objects.filter(pk=trained_catalogue.pk).exists():
        forget_cached_answers(trained_snapshot.version_id)  # answers of the flushed rows
        _restore_snapshot(trained_snapshot.rows)
    return trained_catalogue


@pytest.fixture
def trained_sample(db, trained_snapshot, artifacts_dir):
    """The sample with the session's trained version published and active in this test's artifacts_dir, its rows
    restored inside the test (as sample_catalogue's): for tests that need a served version before they start, without
    training one of their own."""
    from embeddings.models import ModelVersion

    shutil.copytree(trained_snapshot.artifacts, artifacts_dir, symlinks=True, dirs_exist_ok=True)
    forget_cached_answers(trained_snapshot.version_id)  # an earlier test served the same version and ids
    _restore_snapshot(trained_snapshot.rows)
    return ModelVersion.objects.get(version_id=trained_snapshot.version_id)
