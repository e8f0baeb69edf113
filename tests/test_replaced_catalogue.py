"""A replaced catalogue (`import_* --replace`): versions whose book ids are gone are marked stale (never activated
again, shown as such); the served version stays served and keeps answering for the ids that still exist, until a
new version is trained (`make run` then queues one)."""

import io

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from embeddings import versions
from embeddings.models import ModelVersion, StaleVersion, TrainingRun
from embeddings.serving import LoadedVersion
from embeddings.stale import mark_stale_versions
from recommender import recommendations
from recommender.catalogue.models import Book
from recommender.celery import app
from tests.helpers import goodbooks_subset

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_superuser("librarian", password="pw"))
    return client


@pytest.mark.slow
def test_replace_marks_versions_stale_and_keeps_serving(trained_catalogue, staff, settings, tmp_path):
    version = trained_catalogue
    old_book = Book.objects.get(title="Watership Down")
    before = LoadedVersion.open(version.path).similar_books(old_book.pk, 5)
    assert mark_stale_versions(Book.objects.values_list("id", flat=True)) == []  # every id still there: not stale

    err = io.StringIO()
    goodbooks = goodbooks_subset(tmp_path / "goodbooks", 1000)  # another catalogue; its size does not matter here
    call_command("import_goodbooks", str(goodbooks), "--replace", stdout=io.StringIO(), stderr=err)
    assert "1 model version(s) marked stale" in err.getvalue()
    version.refresh_from_db()
    assert version.stale and version.is_active
    assert not Book.objects.filter(pk=old_book.pk).exists() and Book.objects.count() == 1000

    # Still served: active.json is untouched and the version answers for the ids it holds ...
    assert versions.active_version_id(settings.ARTIFACTS_DIR) == version.version_id
    assert recommendations.active_version().similar_books(old_book.pk, 5) == before
    # ... but none of them is a book any more, and the new books have no vector: the pages say why.
    assert staff.get(f"/books/{old_book.pk}/").status_code == 404
    new_book = Book.objects.order_by("pk").first()
    page = staff.get(f"/books/{new_book.pk}/").text
    assert "The catalogue was replaced after the served model was trained" in page
    assert staff.get("/model-status/").json()["stale"] is True

    # Not activatable: the model, /training/ and the admin refuse it and say why.
    with pytest.raises(StaleVersion, match="stale"):
        version.activate()
    refused = staff.post(f"/training/versions/{version.version_id}/activate/", follow=True)
    assert "is stale" in refused.text
    admin = staff.post(
        "/admin/embeddings/modelversion/", {"action": "activate", "_selected_action": [version.pk]}, follow=True
    )
    assert "is stale" in admin.text
    listing = staff.get("/training/versions/").text
    assert "tag--stale" in listing and f'action="/training/versions/{version.version_id}/activate/"' not in listing


def test_served_version_answers_for_books_that_still_exist(trained_catalogue):
    book = Book.objects.get(title="Watership Down")
    neighbours = [book_id for book_id, _ in recommendations.active_version().similar_books(book.pk, 10)]
    removed = neighbours[:3]
    Book.objects.filter(pk__in=removed).delete()
    assert mark_stale_versions(Book.objects.values_list("id", flat=True)) == [trained_catalogue.version_id]
    results = recommendations.similar_books(book.pk, 10)
    assert [r.id for r in results] == neighbours[3:]  # the same answer, without the books that are gone


def test_make_run_trains_again_when_the_served_version_is_stale(trained_catalogue, settings):
    from recommender.management.commands.serve import Command

    command = Command(stdout=io.StringIO())
    command.queue_first_training()
    assert not TrainingRun.objects.in_progress().exists()  # a good active version: nothing to do
    ModelVersion.objects.filter(pk=trained_catalogue.pk).update(stale=True)
    try:
        command.queue_first_training()
        assert TrainingRun.objects.in_progress().count() == 1
    finally:
        app.control.purge()
