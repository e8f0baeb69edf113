"""What a run leaves behind: null (never NaN) for what cannot be computed, nothing at all when it fails late."""

import io
import json
import math

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from embeddings import jobs, versions
from embeddings.evaluation import format_metrics_table
from embeddings.models import ModelVersion, RunStatus, TrainingRun
from recommender import recommendations
from recommender.catalogue.models import Book

SMALL = {"epochs": 2, "dim": 8, "batch_positives": 512, "seed": 7, "draw_map": False}


def train_inline(params: dict) -> TrainingRun:
    return jobs.execute(jobs.start_training(params, enqueue=False).pk)


def test_json_safe_turns_non_finite_values_into_null(tmp_path):
    data = {"a": float("nan"), "b": [1.5, float("inf")], "c": {"d": -float("inf")}, "e": 0.25}
    versions.write_json(tmp_path / "m.json", data)
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": None, "b": [1.5, None], "c": {"d": None}, "e": 0.25}


@pytest.mark.django_db
def test_a_source_without_genres_trains_stores_null_and_is_served(client, sample_catalogue, artifacts_dir):
    Book.objects.update(genre="")  # as goodbooks: no book names a genre
    run = train_inline(SMALL)
    assert run.status == RunStatus.SUCCEEDED, run.error
    version = run.version
    on_disk = json.loads((version.path / "metrics.json").read_text())  # strict JSON: NaN would not parse back as null
    for method in ("embedding", "tfidf", "popularity"):
        assert on_disk[method]["genre_precision@10"] is None
        assert version.metrics[method]["genre_precision@10"] is None
        assert 0.0 <= on_disk[method]["author_recall@10"] <= 1.0
    assert "NaN" not in (version.path / "metrics.json").read_text()
    assert "n/a" in format_metrics_table(version.metrics)

    book = Book.objects.get(title="The Chinese Gold Murders")
    assert len(recommendations.similar_books(book.pk, 10)) == 10
    assert client.get(f"/api/books/{book.pk}/similar/").status_code == 200

    client.force_login(User.objects.create_user("librarian", password="pw", is_staff=True))
    page = client.get("/training/").text
    assert "n/a" in page and ">nan<" not in page.lower()
    assert "TF-IDF" in page  # each served metric beside the baselines


@pytest.mark.django_db
def test_a_run_failing_after_its_folder_is_written_publishes_nothing(trained_sample, artifacts_dir, monkeypatch):
    active = versions.active_version_id(artifacts_dir)
    assert active == trained_sample.version_id

    def refuse(self) -> None:
        raise RuntimeError("the database refused the row")

    monkeypatch.setattr(ModelVersion, "activate", refuse)  # fails after versions/<id>/ is renamed into place
    bad = train_inline(SMALL)
    assert bad.status == RunStatus.FAILED and "refused the row" in bad.error
    assert versions.list_versions(artifacts_dir) == [active]
    assert list(ModelVersion.objects.values_list("version_id", flat=True)) == [active]
    assert versions.active_version_id(artifacts_dir) == active
    assert not any((artifacts_dir / "staging").iterdir())


@pytest.mark.django_db
def test_train_command_prints_n_a_for_metrics_it_cannot_compute(sample_catalogue, artifacts_dir):
    Book.objects.update(genre="")
    out = io.StringIO()
    call_command("train", "--inline", "--epochs", "1", "--dim", "8", "--no-map", stdout=out, stderr=io.StringIO())
    genre_row = next(line for line in out.getvalue().splitlines() if line.startswith("genre_precision@10"))
    assert "n/a" in genre_row and not any(math.isnan(float(c)) for c in genre_row.split()[1:] if c != "n/a")
