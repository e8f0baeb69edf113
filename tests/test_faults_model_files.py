"""The active version's files missing, truncated or corrupt: /healthz says so, the API never answers 500.

Documented behaviour: a web process that already serves a good version keeps serving it when the newly activated
one is damaged (HTTP 200, /healthz names the damage); a process with no good version answers 503 JSON with the
reason; both recover once the files are repaired, without a restart.
"""

import shutil
import time
from pathlib import Path

import pytest

from embeddings import serving, versions
from recommender.catalogue.models import Book

pytestmark = pytest.mark.django_db

DAMAGE = ("missing", "truncated", "corrupt", "no-folder")


def publish_copy(source: Path, root: Path, version_id: str) -> Path:
    staging = versions.make_staging_dir(root)
    shutil.copytree(source, staging, dirs_exist_ok=True)
    return versions.publish(root, staging, version_id)


def damage(folder: Path, how: str) -> None:
    target = folder / "book_vectors.npy"
    if how == "missing":
        target.unlink()
    elif how == "truncated":
        with open(target, "r+b") as handle:
            handle.truncate(target.stat().st_size // 2)
    elif how == "corrupt":  # same size, a few bytes changed in the middle: only the checksum can tell
        data = bytearray(target.read_bytes())
        middle = len(data) // 2
        data[middle : middle + 8] = bytes(255 - b for b in data[middle : middle + 8])
        target.write_bytes(bytes(data))
    elif how == "no-folder":
        shutil.rmtree(folder)


@pytest.fixture
def source(trained_catalogue) -> Path:
    """The trained version's folder (read before fresh_root moves ARTIFACTS_DIR)."""
    return trained_catalogue.path


@pytest.fixture
def fresh_root(source, settings, tmp_path, monkeypatch) -> Path:
    """An empty ARTIFACTS_DIR (so a fresh ActiveModel), retrying failed loads quickly."""
    monkeypatch.setattr(serving, "RETRY_AFTER", 0.2)
    settings.ARTIFACTS_DIR = tmp_path / "artifacts"
    settings.ANSWER_CACHE_SECONDS = 0
    return settings.ARTIFACTS_DIR


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_new_version_keeps_the_previous_one_served(client, source, fresh_root, how):
    book = Book.objects.get(title="Space Cadet").id
    publish_copy(source, fresh_root, "good")
    versions.activate(fresh_root, "good")
    assert client.get(f"/api/books/{book}/similar/").status_code == 200

    broken = publish_copy(source, fresh_root, "broken")
    versions.activate(fresh_root, "broken")  # (activate refuses missing files: damaged after, before any request)
    damage(broken, how)

    time.sleep(serving.CHECK_INTERVAL + 0.1)  # web processes look at active.json twice a second
    response = client.get(f"/api/books/{book}/similar/")
    assert response.status_code == 200  # still the good version
    health = client.get("/healthz").json()
    assert health["status"] == "ok"
    assert health["model"]["active"] == "broken" and health["model"]["served"] == "good"
    assert "broken" in health["model"]["error"] and health["model"]["ok"] is False


@pytest.mark.parametrize("how", DAMAGE)
def test_damaged_only_version_is_503_json_then_recovers(client, source, fresh_root, how):
    book = Book.objects.get(title="Space Cadet").id
    folder = publish_copy(source, fresh_root, "only")
    versions.activate(fresh_root, "only")
    damage(folder, how)

    for response in (
        client.get(f"/api/books/{book}/similar/"),
        client.post("/api/recommend/", {"liked": [book]}, content_type="application/json"),
    ):
        assert response.status_code == 503
        assert "cannot be served" in response.json()["error"]
    page = client.get(f"/books/{book}/")
    assert page.status_code == 200  # the book page still shows the book, without similar books
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["model"]["served"] is None and health.json()["model"]["error"]

    shutil.rmtree(folder, ignore_errors=True)  # repair: a good copy arrives under the same id
    shutil.copytree(source, folder)
    time.sleep(
        serving.CHECK_INTERVAL + 0.3
    )  # RETRY_AFTER: a failed version is tried again even though active.json did not change
    assert client.get(f"/api/books/{book}/similar/").status_code == 200
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json()["model"]["ok"] is True


def test_served_version_truncated_later_is_reported(client, source, fresh_root):
    book = Book.objects.get(title="Space Cadet").id
    folder = publish_copy(source, fresh_root, "served")
    versions.activate(fresh_root, "served")
    assert client.get(f"/api/books/{book}/similar/").status_code == 200
    with open(folder / "link_ids.npy", "r+b") as handle:
        handle.truncate(10)
    model = client.get("/healthz").json()["model"]
    assert model["ok"] is False and "link_ids.npy" in model["error"] and "truncated" in model["error"]


def test_published_versions_carry_a_manifest(source):
    from embeddings import integrity

    assert (source / integrity.MANIFEST).is_file()
    assert integrity.problems(source, versions.REQUIRED_FILES) == []
