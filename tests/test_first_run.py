"""The first run: while the first model trains, the home and book pages say so and how far it is (a live bar fed by
the public /model-status/), and show the recommendations once it is served, without a reload by hand."""

import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import User

from embeddings import jobs, versions
from embeddings.models import ModelVersion, RunStatus, TrainingRun
from recommender.catalogue.models import Book
from tests.browser import wait_in_page
from tests.helpers import on_own_connection

SHOTS = Path("/tmp/shots")


def running_run(phase: str = "evaluation", step: int = 30, total_steps: int = 100) -> TrainingRun:
    run = jobs.start_training({}, enqueue=False)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, phase=phase, step=step, total_steps=total_steps
    )
    return TrainingRun.objects.get(pk=run.pk)


def publish_version(root: Path, version_id: str, book_ids: list[int], seed: int = 0) -> None:
    """A version folder with random unit vectors for these books (input for the page flow, not a result)."""
    rng = np.random.default_rng(seed)
    staging = versions.make_staging_dir(root)
    for kind, ids in (("book", book_ids), ("link", [1, 2])):
        vectors = rng.standard_normal((len(ids), 8)).astype(np.float32)
        np.save(staging / f"{kind}_vectors.npy", vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        np.save(staging / f"{kind}_ids.npy", np.asarray(ids, dtype=np.int64))
    versions.write_json(staging / "metrics.json", {})
    versions.publish(root, staging, version_id)


@pytest.mark.django_db
def test_pages_say_a_model_is_being_trained(client, artifacts_dir):
    book = Book.objects.create(title="A Book")
    home = client.get("/").text
    assert "No model has been trained yet" in home and "python manage.py train --wait" in home
    run = running_run()
    for url in ("/", f"/books/{book.pk}/"):
        text = client.get(url).text
        assert "A model is being trained" in text, url
        assert "No model has been trained yet" not in text
        assert f'value="{run.fraction_done}"' in text and "training the evaluation model" in text
        assert 'data-status-url="/model-status/"' in text and "js/first_run.js" in text


@pytest.mark.django_db
def test_model_status_is_public_and_small(client, artifacts_dir):
    assert client.get("/model-status/").json() == {
        "model_ready": False,
        "version": None,
        "stale": False,
        "training": None,
    }
    run = running_run(phase="final", step=50, total_steps=100)
    response = client.get("/model-status/")
    assert response.status_code == 200 and "no-cache" in response["Cache-Control"]
    assert response.json()["training"] == {
        "status": "running",
        "phase": "final",
        "phase_label": "training the final model",
        "fraction_done": 0.7,  # half of the final model: 0.5 + 0.5 * (0.9 - 0.5), see PHASE_SHARES
    }
    assert set(response.json()) == {"model_ready", "version", "stale", "training"}  # no params, errors, metrics
    publish_version(artifacts_dir, "v1", [Book.objects.create(title="B").pk, Book.objects.create(title="C").pk])
    ModelVersion.objects.create(version_id="v1", run=run).activate()
    run.finish(RunStatus.SUCCEEDED)
    assert client.get("/model-status/").json() == {
        "model_ready": True,
        "version": "v1",
        "stale": False,
        "training": None,
    }
    assert client.post("/model-status/").status_code == 405


# In a real browser ------------------------------------------------------------------------------------------

sync_api = pytest.importorskip("playwright.sync_api", reason="Python Playwright is not installed")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def first_run_site(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict]:
    """A live server over a few committed books, no model, and a run in progress (all removed at the end)."""
    from django.test import override_settings
    from pytest_django.live_server_helper import LiveServer

    if CHROMIUM is None:
        pytest.skip("no chromium executable (apt-get install chromium)")
    artifacts = tmp_path_factory.mktemp("first-run")
    with django_db_blocker.unblock(), override_settings(ARTIFACTS_DIR=artifacts):
        books = [Book.objects.create(title=f"First-run book {i}", author=f"Author {i}") for i in range(6)]
        run = running_run(step=10)
        server = LiveServer("localhost")
        server._live_server_modified_settings.enable()
        try:
            yield {"url": server.url, "books": books, "run": run, "artifacts": artifacts, "blocker": django_db_blocker}
        finally:
            server._live_server_modified_settings.disable()
            server.stop()
            ModelVersion.objects.all().delete()
            TrainingRun.objects.all().delete()
            Book.objects.filter(pk__in=[b.pk for b in books]).delete()
            User.objects.filter(username="first-run-staff").delete()


@pytest.mark.slow
def test_book_page_follows_the_first_run_and_shows_recommendations(first_run_site):
    site, books, run = first_run_site["url"], first_run_site["books"], first_run_site["run"]
    # Playwright's loop runs in this thread. An ORM call here would need DJANGO_ALLOW_ASYNC_UNSAFE and open a
    # connection of the loop's context, which connections.close_all() after the loop cannot reach (it stayed open and
    # kept PostgreSQL from dropping the test database): the database work runs in a thread of its own instead.
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(f"{site}/books/{books[0].pk}/")
        notice = page.locator(".first-run")
        assert "A model is being trained" in notice.inner_text()
        with first_run_site["blocker"].unblock():
            on_own_connection(
                lambda: TrainingRun.objects.filter(pk=run.pk).update(phase="final", step=60, total_steps=100)
            )
        wait_in_page(page, "document.querySelector('.first-run progress').value > 0.7")
        assert "training the final model" in page.locator(".first-run-phase").inner_text()
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "first-run-training.png"), full_page=True)

        def publish() -> None:  # what the worker would do: publish, activate, finish
            publish_version(first_run_site["artifacts"], "v-first", [b.pk for b in books])
            ModelVersion.objects.create(version_id="v-first", run=run).activate()
            TrainingRun.objects.get(pk=run.pk).finish(RunStatus.SUCCEEDED)

        with first_run_site["blocker"].unblock():
            on_own_connection(publish)
        page.wait_for_selector("ol.results li.result")  # reloaded by itself
        assert page.locator(".first-run").count() == 0
        assert page.locator("ol.results li.result").count() == 5
        page.screenshot(path=str(SHOTS / "first-run-done.png"), full_page=True)
        assert not errors, errors
        browser.close()
