"""Before any model is trained the API says so with 503, and picks up a version once one is activated."""

import shutil
import time

import numpy as np
import pytest

from embeddings import similar_table, versions
from embeddings.models import ModelVersion
from recommender.catalogue.models import Book

pytestmark = pytest.mark.django_db


def test_no_active_version_is_503(client, sample_catalogue, artifacts_dir):
    space_cadet = Book.objects.get(title="Space Cadet").id
    response = client.get(f"/api/books/{space_cadet}/similar/")
    assert response.status_code == 503
    assert "no model version is active yet" in response.json()["error"]
    response = client.post("/api/recommend/", {"liked": [space_cadet]}, content_type="application/json")
    assert response.status_code == 503
    assert client.get("/api/books/?q=space").status_code == 200  # search needs no model


def test_hot_reload_after_activation(client, trained_catalogue, settings, tmp_path):
    """A running web process serves a newly activated version without a restart."""
    source = trained_catalogue.path
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    space_cadet = Book.objects.get(title="Space Cadet").id
    assert client.get(f"/api/books/{space_cadet}/similar/").status_code == 503

    # publish a copy of the trained version into the empty artifacts dir, then activate it
    staging = versions.make_staging_dir(settings.ARTIFACTS_DIR)
    shutil.copytree(source, staging, dirs_exist_ok=True)
    versions.publish(settings.ARTIFACTS_DIR, staging, "copy-1")
    versions.activate(settings.ARTIFACTS_DIR, "copy-1")
    first = wait_for_status(client, f"/api/books/{space_cadet}/similar/", 200)

    # a second version with the book vectors shuffled: similar books must change
    staging = versions.make_staging_dir(settings.ARTIFACTS_DIR)
    shutil.copytree(source, staging, dirs_exist_ok=True)
    vectors = np.load(staging / "book_vectors.npy")
    np.save(staging / "book_vectors.npy", vectors[np.random.default_rng(0).permutation(len(vectors))])
    (staging / "books.ann").unlink()  # index.json says exact search for the sample; no stale Annoy file
    for table in (similar_table.ROWS_FILE, similar_table.SCORES_FILE):  # answers of the unshuffled vectors
        (staging / table).unlink()
    versions.publish(settings.ARTIFACTS_DIR, staging, "copy-2")
    versions.activate(settings.ARTIFACTS_DIR, "copy-2")
    second = wait_for_status(client, f"/api/books/{space_cadet}/similar/", 200, unlike=first)
    assert [r["id"] for r in second] != [r["id"] for r in first]
    assert ModelVersion.objects.filter(is_active=True).count() == 1  # the database copy is untouched


def wait_for_status(client, url: str, status: int, unlike: list | None = None) -> list:
    """Poll until the URL answers `status` (and results other than `unlike`): the reload check is periodic."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        response = client.get(url)
        if response.status_code == status and (unlike is None or response.json()["results"] != unlike):
            return response.json()["results"]
        time.sleep(0.1)
    raise AssertionError(f"{url} never answered {status}" + (" with new results" if unlike else ""))
