"""/training/versions/: every version side by side against the active one and the baselines, two versions'
recommendations for the same books, one-click activation; the admin's activate action and "Train now" button."""

import html

import pytest
from django.contrib.auth.models import User

from embeddings import jobs, versions
from embeddings.models import ModelVersion, RunStatus, TrainingRun
from embeddings.serving import LoadedVersion
from recommender.catalogue.models import Book
from recommender.celery import app
from recommender.librarian import compare
from tests.helpers import FAST_PARAMS

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def two_versions(trained_catalogue, django_db_blocker):
    """The module's trained version and a second one with other settings (now the active one)."""
    with django_db_blocker.unblock():
        run = jobs.execute(jobs.start_training({**FAST_PARAMS, "epochs": 2, "dim": 8, "seed": 5}, enqueue=False).pk)
        assert run.status == RunStatus.SUCCEEDED, run.error
        first = ModelVersion.objects.get(pk=trained_catalogue.pk)
        yield first, run.version


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_user("librarian", password="pw", is_staff=True))
    yield client
    app.control.purge()  # "Train now" queues a message no worker takes here


def test_version_table_against_the_active_one(two_versions):
    first, second = two_versions
    table = compare.version_table()
    assert [v.version_id for v in table.versions] == [second.version_id, first.version_id]
    assert table.active.version_id == second.version_id
    sections = dict(table.sections)
    assert list(sections) == ["Hyperparameters", "Data", "Duration", "Metrics"]
    dim = next(row for row in sections["Hyperparameters"] if row.label == "dim")
    assert [c.value for c in dim.cells] == [8, 16] and [c.differs for c in dim.cells] == [False, True]
    books = next(row for row in sections["Data"] if row.label == "books")
    assert [c.value for c in books.cells] == [second.n_books, first.n_books]
    pairs = next(row for row in sections["Data"] if row.label == "pairs")
    assert pairs.cells[0].value == second.run.n_pairs > 30000
    assert all(c.value > 0 for c in sections["Duration"][0].cells)
    metrics = {row.label: row for row in sections["Metrics"]}
    assert list(metrics)[:5] == list(compare.KNOWN_METRICS)
    auc = metrics["link_auc"]
    assert auc.cells[0].value == pytest.approx(second.metrics["served"]["link_auc"])  # what it serves
    assert auc.cells[0].delta == 0 and not auc.cells[0].differs  # the active one against itself
    expected = first.metrics["served"]["link_auc"] - second.metrics["served"]["link_auc"]
    assert auc.cells[1].delta == pytest.approx(expected)
    assert auc.cells[1].better is (expected > 0 if abs(expected) >= compare.DIFF_EPSILON else None)
    assert dict(auc.cells[1].baselines) == {
        "TF-IDF": pytest.approx(first.metrics["tfidf"]["link_auc"]),
        "popularity": pytest.approx(first.metrics["popularity"]["link_auc"]),
    }


def test_null_metrics_show_as_not_available(staff, two_versions):
    first, _ = two_versions
    metrics = {**first.metrics, "served": {**first.metrics["served"], "author_recall@10": None}}
    ModelVersion.objects.filter(pk=first.pk).update(metrics=metrics)
    row = next(r for r in dict(compare.version_table().sections)["Metrics"] if r.label == "author_recall@10")
    assert row.cells[1].value is None and row.cells[1].delta is None and not row.cells[1].differs
    assert "n/a" in staff.get("/training/versions/").text


def test_recommendations_of_two_versions_side_by_side(two_versions):
    first, second = two_versions
    books = [Book.objects.get(title="Space Cadet"), Book.objects.get(title="Watership Down")]
    comparisons = compare.compare_recommendations(first.version_id, second.version_id, books)
    assert [c.book for c in comparisons] == books
    for comparison in comparisons:
        for side, version in zip(comparison.sides, (first, second), strict=True):
            expected = LoadedVersion.open(version.path).similar_books(comparison.book.pk, compare.RESULTS_K)
            assert [r["id"] for r in side.results] == [book_id for book_id, _ in expected]
            assert side.results[0]["title"] == Book.objects.get(pk=expected[0][0]).title
        ids = [{r["id"] for r in side.results} for side in comparison.sides]
        assert comparison.overlap == len(ids[0] & ids[1])
        assert all(r["shared"] == (r["id"] in ids[0] & ids[1]) for side in comparison.sides for r in side.results)


def test_a_book_a_version_does_not_know(two_versions):
    first, second = two_versions
    unlinked = Book.objects.create(title="A book added after training")
    side = compare.compare_recommendations(first.version_id, second.version_id, [unlinked])[0].sides[0]
    assert side.results == [] and "not in this version" in side.problem


def test_versions_page(staff, two_versions):
    first, second = two_versions
    Book.objects.filter(title="Space Cadet").update(author="<script>alert(1)</script>")
    books = "Space Cadet\nWatership Down\nnothing like this"
    page = staff.get("/training/versions/", {"a": first.version_id, "b": second.version_id, "books": books})
    assert page.status_code == 200
    text = page.text
    assert first.version_id in text and second.version_id in text
    assert "active</strong>" in text and "TF-IDF" in text and "genre_precision@10" in text
    assert f'action="/training/versions/{first.version_id}/activate/"' in text  # one click for the other one
    assert f'action="/training/versions/{second.version_id}/activate/"' not in text  # the active one is marked
    assert "Not found: nothing like this" in text
    assert html.escape("<script>alert(1)</script>") in text and "<script>alert(1)" not in text
    assert f"/training/versions/{first.version_id}/projector/books/vectors.tsv" in text
    default = staff.get("/training/versions/")  # no choice yet: the active one against the other, a few books
    assert default.status_code == 200 and default.text.count('class="comparison"') >= 1


def test_activate_from_the_versions_page(staff, two_versions, settings):
    first, second = two_versions
    response = staff.post(f"/training/versions/{first.version_id}/activate/", {"next": "versions"})
    assert response.status_code == 302 and response["Location"] == "/training/versions/"
    assert versions.active_version_id(settings.ARTIFACTS_DIR) == first.version_id
    second.refresh_from_db()
    assert not second.is_active
    second.activate()  # back as it was for the other tests (the files live outside the test's transaction)


def test_staff_only(client, two_versions):
    first, _ = two_versions
    run = TrainingRun.objects.first()
    urls = [
        "/training/versions/",
        f"/training/runs/{run.pk}/",
        f"/training/runs/{run.pk}/curve/",
        f"/training/versions/{first.version_id}/projector/links/metadata.tsv",
        "/admin/embeddings/trainingrun/",
        "/admin/embeddings/modelversion/",
    ]
    User.objects.create_user("reader", password="pw")
    for login in (False, True):
        if login:
            client.login(username="reader", password="pw")
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302 and "/login/" in response["Location"], url
    for url in (f"/training/versions/{first.version_id}/activate/", "/admin/embeddings/trainingrun/train-now/"):
        assert client.post(url).status_code == 302 and ModelVersion.objects.get(is_active=True) != first


def test_csrf_required(two_versions):
    from django.test import Client

    first, _ = two_versions
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("strict", password="pw", is_staff=True, is_superuser=True))
    assert client.post(f"/training/versions/{first.version_id}/activate/").status_code == 403
    assert client.post("/admin/embeddings/trainingrun/train-now/").status_code == 403
    assert not ModelVersion.objects.get(pk=first.pk).is_active and not TrainingRun.objects.in_progress().exists()


@pytest.fixture
def admin_client_(client):
    client.force_login(User.objects.create_superuser("admin", password="pw"))
    yield client
    app.control.purge()


def test_admin_activate_action_and_read_only(admin_client_, two_versions, settings):
    first, second = two_versions
    changelist = "/admin/embeddings/modelversion/"
    response = admin_client_.post(changelist, {"action": "activate", "_selected_action": [first.pk]}, follow=True)
    assert f"Version {first.version_id} is now served." in response.text
    assert versions.active_version_id(settings.ARTIFACTS_DIR) == first.version_id
    both = admin_client_.post(
        changelist, {"action": "activate", "_selected_action": [first.pk, second.pk]}, follow=True
    )
    assert "Select exactly one version." in both.text
    # read-only otherwise: no add, change or delete
    assert admin_client_.get(f"{changelist}add/").status_code == 403
    change = admin_client_.post(f"{changelist}{second.pk}/change/", {"version_id": "renamed"})
    assert change.status_code == 403 and ModelVersion.objects.get(pk=second.pk).version_id == second.version_id
    assert admin_client_.post(f"{changelist}{second.pk}/delete/", {"post": "yes"}).status_code == 403
    assert "delete_selected" not in admin_client_.get(changelist).text
    second.activate()


def test_admin_train_now(admin_client_, two_versions):
    runs = "/admin/embeddings/trainingrun/"
    page = admin_client_.get(runs)
    assert "Train now" in page.text and 'action="/admin/embeddings/trainingrun/train-now/"' in page.text
    assert admin_client_.get(f"{runs}train-now/").status_code == 405  # a POST only
    response = admin_client_.post(f"{runs}train-now/", follow=True)
    run = TrainingRun.objects.in_progress().get()
    assert f"Training run {run.pk} queued with the default settings." in response.text
    assert run.params == {} and run.task_id
    refused = admin_client_.post(f"{runs}train-now/", follow=True)
    assert "is already queued" in refused.text and TrainingRun.objects.in_progress().count() == 1
    change = admin_client_.post(f"{runs}{run.pk}/change/", {"status": "succeeded"})
    assert change.status_code == 403 and TrainingRun.objects.get(pk=run.pk).status == RunStatus.QUEUED
    cancel = admin_client_.post(runs, {"action": "cancel", "_selected_action": [run.pk]}, follow=True)
    assert "Cancel requested" in cancel.text and TrainingRun.objects.get(pk=run.pk).status == RunStatus.CANCELLED
