"""Training runs end to end: a real Celery worker, progress, cancel, failures, one run at a time, versions."""

import io
import json
from datetime import timedelta

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from embeddings import jobs, versions
from embeddings.models import ModelVersion, RunStatus, TrainingRun
from tests.helpers import wait_for

pytestmark = pytest.mark.slow  # trains models (TensorFlow)

SMALL = {"epochs": 2, "dim": 8, "batch_positives": 512, "seed": 7, "draw_map": False}


def train_inline(params: dict) -> TrainingRun:
    run = jobs.start_training(params, enqueue=False)
    return jobs.execute(run.pk)


@pytest.mark.django_db(transaction=True)
def test_worker_trains_with_growing_progress_and_activates(celery_worker_process, sample_catalogue, artifacts_dir):
    run = jobs.start_training({**SMALL, "epochs": 4})
    progress: list[float] = []

    def finished() -> bool:
        current = TrainingRun.objects.get(pk=run.pk)
        progress.append(current.fraction_done)
        return current.is_finished

    wait_for(finished, 240, "the run to finish", interval=0.1)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert len(set(progress)) >= 3 and progress == sorted(progress)  # the bar moved forward, never back
    assert run.n_books > 1700 and run.n_links > 2000 and run.n_pairs > 30000
    version = ModelVersion.objects.get(run=run)
    assert version.is_active
    assert versions.active_version_id(artifacts_dir) == version.version_id
    folder = versions.version_path(artifacts_dir, version.version_id)
    for name in (
        "book_vectors.npy",
        "link_vectors.npy",
        "book_ids.npy",
        "link_ids.npy",
        "metrics.json",
        "params.json",
        "history.json",
        "books.ann",
        "links.ann",
        "index.json",
    ):
        assert (folder / name).is_file(), name
    metrics = json.loads((folder / "metrics.json").read_text())
    for model in ("embedding", "tfidf", "popularity"):
        for name in ("link_auc", "link_recall@10", "genre_precision@10", "author_recall@10"):
            assert 0.0 <= metrics[model][name] <= 1.0, (model, name)
    assert metrics["index"]["book"]["recall"] >= 0.99
    vectors = np.load(folder / "book_vectors.npy")
    assert vectors.dtype == np.float32 and np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-4)


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_running_run(celery_worker_process, sample_catalogue, artifacts_dir):
    run = jobs.start_training({**SMALL, "epochs": 500})
    wait_for(lambda: TrainingRun.objects.filter(pk=run.pk, step__gt=0).exists(), 120, "training to start")
    call_command("train", "--cancel", str(run.pk), stdout=io.StringIO())
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).is_finished, 60, "the run to stop")
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert not ModelVersion.objects.exists()
    assert versions.active_version_id(artifacts_dir) is None
    assert not any((artifacts_dir / "staging").iterdir())  # the partial files are gone


@pytest.mark.django_db
def test_one_run_at_a_time_and_queued_cancel():
    first = jobs.start_training(SMALL, enqueue=False)
    with pytest.raises(jobs.RunRefused, match=f"training run {first.pk} is already queued"):
        jobs.start_training(SMALL, enqueue=False)
    with pytest.raises(CommandError, match="already queued"):
        call_command("train", "--inline", stdout=io.StringIO())
    first.request_cancel()
    assert first.status == RunStatus.CANCELLED
    second = jobs.start_training(SMALL, enqueue=False)
    assert second.status == RunStatus.QUEUED


@pytest.mark.django_db
def test_stale_run_is_failed_and_frees_the_slot(artifacts_dir):
    run = jobs.start_training(SMALL, enqueue=False)
    assert run.claim()
    left_behind = versions.make_staging_dir(artifacts_dir, prefix=run.staging_prefix)  # as a killed worker leaves it
    TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    again = jobs.start_training(SMALL, enqueue=False)  # fails the stale run first
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "heartbeats" in run.error
    assert not left_behind.exists()
    assert again.status == RunStatus.QUEUED
    # a redelivered task message for the dead run does nothing
    assert jobs.execute(run.pk).status == RunStatus.FAILED


@pytest.mark.django_db
def test_failed_run_leaves_the_active_version(trained_sample, artifacts_dir):
    active = versions.active_version_id(artifacts_dir)
    assert active == trained_sample.version_id
    bad = train_inline({**SMALL, "min_link_count": 100000})
    assert bad.status == RunStatus.FAILED
    assert "nothing to train on" in bad.error
    assert versions.active_version_id(artifacts_dir) == active
    assert ModelVersion.objects.get(is_active=True).version_id == active
    assert versions.list_versions(artifacts_dir) == [active]
    assert not any((artifacts_dir / "staging").iterdir())


@pytest.mark.django_db
def test_same_seed_same_vectors_and_reactivation(sample_catalogue, artifacts_dir):
    first = train_inline(SMALL).version
    second = train_inline(SMALL).version
    a = np.load(first.path / "book_vectors.npy")
    b = np.load(second.path / "book_vectors.npy")
    assert np.array_equal(a, b)
    assert versions.active_version_id(artifacts_dir) == second.version_id
    call_command("activate", first.version_id, stdout=io.StringIO())
    assert versions.active_version_id(artifacts_dir) == first.version_id
    assert list(ModelVersion.objects.filter(is_active=True)) == [first]
    with pytest.raises(CommandError, match="no version"):
        call_command("activate", "nope", stdout=io.StringIO())


@pytest.mark.django_db
def test_train_inline_command_prints_version_and_metrics(sample_catalogue, artifacts_dir):
    out = io.StringIO()
    call_command("train", "--inline", "--epochs", "2", "--dim", "8", "--no-map", stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    version = ModelVersion.objects.get()
    assert f"version {version.version_id} is active" in text
    assert "genre_precision@10" in text and "tfidf" in text
    assert version.params["epochs"] == 2 and version.params["dim"] == 8 and version.params["draw_map"] is False
    assert "map" not in version.metrics and not (version.path / "map.json").exists()


@pytest.mark.django_db
def test_bad_train_options():
    with pytest.raises(CommandError, match="--epochs must be at least 1"):
        call_command("train", "--epochs", "0", "--inline")
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("train", "--mode", "bogus")
