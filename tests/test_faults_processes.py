"""Faults with real processes: a worker SIGKILLed mid-run, two retraining requests at once, an import killed.

Bounds: with TRAINING_STALE_SECONDS=S a killed worker's run is marked failed at most S seconds plus one worker
heartbeat (recommender.workers.BEAT_EVERY) after its last heartbeat, as soon as any worker is alive (or at once by
anyone opening /training/). The default S is 90 s; these tests use 6 s so that they are quick.
"""

import io
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from embeddings import jobs, versions
from embeddings.models import ModelVersion, RunStatus, TrainingRun
from recommender import workers
from recommender.catalogue import importer
from recommender.catalogue.models import Book, BookLink, Link
from tests.helpers import ROOT, goodbooks_subset, test_database_url, wait_for

STALE_SECONDS = 6
SMALL = {"epochs": 2, "dim": 8, "batch_positives": 512, "seed": 7, "draw_map": False}


def child_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "ARTIFACTS_DIR": str(settings.ARTIFACTS_DIR),
        "TRAINING_STALE_SECONDS": str(STALE_SECONDS),
        **extra,
    }


def start_worker(log: Path) -> tuple[subprocess.Popen, str]:
    name = f"faults-{uuid.uuid4().hex[:8]}@localhost"
    command = [sys.executable, "-m", "celery", "-A", "recommender", "worker", "--pool=solo", "--loglevel=INFO"]
    command += ["-n", name, "--without-gossip", "--without-mingle"]
    with open(log, "a") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=child_env(), stdout=out, stderr=subprocess.STDOUT)
    return process, name


def healthz_ms(client, times: int = 5) -> tuple[float, dict]:
    """Median milliseconds of a few /healthz calls, and the last report."""
    spent, body = [], {}
    for _ in range(times):
        started = time.perf_counter()
        response = client.get("/healthz")
        spent.append((time.perf_counter() - started) * 1000)
        body = response.json()
    return statistics.median(spent), body


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_run(client, trained_sample, artifacts_dir, settings, tmp_path):
    from recommender.celery import app

    settings.TRAINING_STALE_SECONDS = STALE_SECONDS
    active = versions.active_version_id(artifacts_dir)
    assert active == trained_sample.version_id
    published = versions.list_versions(artifacts_dir)
    book = Book.objects.get(title="Space Cadet").id

    app.control.purge()
    worker, name = start_worker(tmp_path / "worker.log")
    spare = None
    try:
        wait_for(lambda: name in workers.status()["names"], 90, "the worker's first heartbeat")
        run = jobs.start_training({**SMALL, "epochs": 500})
        wait_for(lambda: TrainingRun.objects.filter(pk=run.pk, step__gt=0).exists(), 120, "training to start")

        # the only worker is busy training: /healthz answers from heartbeats, without waiting on it
        wait_for(lambda: name in workers.status()["busy"], 10, "the heartbeat to say busy")
        busy_ms, body = healthz_ms(client)
        assert busy_ms < 100, f"/healthz took {busy_ms:.0f} ms while the worker trains"
        assert body["workers"]["busy"] == [name]

        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        killed_at = time.monotonic()
        down_ms, body = healthz_ms(client)
        assert down_ms < 100, f"/healthz took {down_ms:.0f} ms with the worker gone"

        spare, spare_name = start_worker(tmp_path / "spare.log")  # a supervisor restarts the worker
        wait_for(lambda: TrainingRun.objects.get(pk=run.pk).is_finished, STALE_SECONDS + 90, "the run to be failed")
        failed_after = time.monotonic() - killed_at
        run.refresh_from_db()
        assert run.status == RunStatus.FAILED and "heartbeat" in run.error
        # bound: stale after STALE_SECONDS since the last heartbeat, found at the spare worker's first beat
        # (which includes its start-up: a few seconds on a busy machine)
        assert failed_after < STALE_SECONDS + 60, failed_after

        assert versions.active_version_id(artifacts_dir) == active
        assert versions.list_versions(artifacts_dir) == published  # nothing half-written published
        assert not any((artifacts_dir / "staging").iterdir())  # its staging folder is gone
        assert client.get(f"/api/books/{book}/similar/").status_code == 200

        wait_for(lambda: spare_name in workers.status()["names"], 90, "the spare worker")
        after = jobs.start_training(SMALL)
        wait_for(lambda: TrainingRun.objects.get(pk=after.pk).is_finished, 240, "the next run")
        after.refresh_from_db()
        assert after.status == RunStatus.SUCCEEDED, after.error
        assert versions.active_version_id(artifacts_dir) == ModelVersion.objects.get(run=after).version_id
    finally:
        for process in (worker, spare):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()


RACE = """
import sys, time
import django
django.setup()
from embeddings import jobs
start = float(sys.argv[1])
while time.time() < start:
    pass
try:
    run = jobs.start_training({"epochs": 1}, enqueue=False)
except jobs.RunRefused as exc:
    print("refused:", exc)
else:
    print("started", run.pk)
"""


@pytest.mark.django_db(transaction=True)
def test_two_retraining_requests_at_once_start_one_run(artifacts_dir):
    start = time.time() + 4  # both processes are set up by then and spin until the same instant
    env = {**child_env(), "DJANGO_SETTINGS_MODULE": "recommender.settings"}
    processes = [
        subprocess.Popen([sys.executable, "-c", RACE, str(start)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    assert sorted(o.split()[0] for o in outputs) == ["refused:", "started"], outputs
    assert TrainingRun.objects.count() == 1


def catalogue_counts() -> tuple[int, int, int]:
    return Book.objects.count(), Link.objects.count(), BookLink.objects.count()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_import_killed_half_way_then_rerun_completes(tmp_path):
    # a batch and a half: the kill lands after the first batch's commit, before the second's
    n_books = importer.BATCH_BOOKS * 3 // 2
    source = goodbooks_subset(tmp_path / "goodbooks", n_books)
    call_command("import_goodbooks", str(source), stdout=io.StringIO(), stderr=io.StringIO())
    complete = catalogue_counts()
    assert complete[0] == n_books and complete[2] > 0
    call_command("flush", "--no-input", verbosity=0)

    command = [sys.executable, "manage.py", "import_goodbooks", str(source)]
    process = subprocess.Popen(command, cwd=ROOT, env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: process.poll() is not None or Book.objects.exists(), 120, "the first batch", interval=0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=10)
    partial = catalogue_counts()
    assert partial != complete, "the import finished before it could be killed: nothing was tested"

    out = io.StringIO()
    call_command("import_goodbooks", str(source), stdout=out, stderr=io.StringIO())
    assert catalogue_counts() == complete
