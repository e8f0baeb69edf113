"""/training/: staff start, follow (JSON for the live bar), cancel runs and activate versions."""

import pytest
from django.contrib.auth.models import User

from embeddings import versions
from embeddings.models import ModelVersion, RunStatus, TrainingRun
from recommender.celery import app

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    user = User.objects.create_user("librarian", password="pw", is_staff=True)
    client.force_login(user)
    yield client
    app.control.purge()  # no worker runs here: leave no queued message for later tests


def test_staff_only(client):
    response = client.get("/training/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert client.post("/training/start/").status_code == 302
    assert not TrainingRun.objects.exists()


def test_start_follow_cancel(staff):
    page = staff.get("/training/")
    assert page.status_code == 200 and "Start a run" in page.text
    response = staff.post("/training/start/", {"epochs": "3", "dim": "8"}, follow=True)
    run = TrainingRun.objects.get()
    assert f"Training run {run.pk} queued." in response.text
    assert run.params == {"epochs": 3, "dim": 8} and run.task_id
    assert f'data-run-url="/training/runs/{run.pk}/"' in response.text  # the live bar follows it

    refused = staff.post("/training/start/", {}, follow=True)
    assert "is already queued" in refused.text and TrainingRun.objects.count() == 1

    progress = staff.get(f"/training/runs/{run.pk}/").json()
    assert progress["status"] == "queued" and progress["fraction_done"] == 0

    staff.post(f"/training/runs/{run.pk}/cancel/")
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED


def test_invalid_hyperparameters(staff):
    response = staff.post("/training/start/", {"epochs": "0", "mode": "nonsense"}, follow=True)
    assert "Check the hyperparameters" in response.text
    assert not TrainingRun.objects.exists()


def test_activate_an_older_version(staff, settings, tmp_path):
    settings.ARTIFACTS_DIR = tmp_path
    for name in ("v1", "v2"):
        staging = versions.make_staging_dir(tmp_path)
        for file in versions.REQUIRED_FILES:
            (staging / file).write_text("{}")
        versions.publish(tmp_path, staging, name)
        ModelVersion.objects.create(version_id=name).activate()
    assert versions.active_version_id(tmp_path) == "v2"
    response = staff.post("/training/versions/v1/activate/", follow=True)
    assert "Version v1 is now served." in response.text
    assert versions.active_version_id(tmp_path) == "v1"
    assert list(ModelVersion.objects.filter(is_active=True).values_list("version_id", flat=True)) == ["v1"]
