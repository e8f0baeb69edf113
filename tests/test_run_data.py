"""What `make run` imports: BOOKS_DATA, else data/, else the original project's file (or clear advice)."""

import io
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command

from embeddings.models import TrainingRun
from recommender.catalogue.models import Book
from recommender.celery import app
from recommender.data import DataUnavailable, data_paths, download, is_goodbooks_dir
from tests.helpers import GOODBOOKS, WIKIPEDIA


def test_books_data_wins_then_data_dir(tmp_path):
    assert data_paths("a.ndjson  b/*.ndjson", tmp_path) == ["a.ndjson", "b/*.ndjson"]
    assert data_paths("", tmp_path) == []
    (tmp_path / "part.ndjson").write_text("")
    assert data_paths("", tmp_path) == [str(tmp_path)]
    assert is_goodbooks_dir(GOODBOOKS) and not is_goodbooks_dir(WIKIPEDIA)


def test_download_with_progress_and_clear_failure(tmp_path):
    (tmp_path / "served").mkdir()
    (tmp_path / "served" / "books.ndjson").write_text('["A", {}, ["x"], [], "", 1]\n')
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path / "served"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        target = download(f"http://127.0.0.1:{server.server_port}/books.ndjson", tmp_path / "data" / "books.ndjson")
        assert target.read_text().startswith('["A"')
        with pytest.raises(DataUnavailable, match="BOOKS_DATA=../shared/data/wikipedia make run"):
            download(f"http://127.0.0.1:{server.server_port}/missing.ndjson", tmp_path / "data" / "other.ndjson")
        assert not (tmp_path / "data" / "other.ndjson.part").exists()  # no partial file left behind
    finally:
        server.shutdown()


@pytest.mark.django_db
def test_serve_imports_into_an_empty_catalogue_and_queues_training(settings, artifacts_dir, monkeypatch):
    from recommender.management.commands import serve

    # the worker and web server processes are what `make run` adds; here only the steps before them run
    settings.BOOKS_DATA = str(WIKIPEDIA)
    started = []
    monkeypatch.setattr(serve.Command, "start", lambda self, options: started.append(options) or [])
    monkeypatch.setattr(serve.Command, "wait", lambda self, processes: None)
    out = io.StringIO()
    try:
        call_command("serve", stdout=out, stderr=io.StringIO())  # the run really goes to the broker
        assert Book.objects.count() == 1780
        run = TrainingRun.objects.get()
        assert f"training run {run.pk} queued" in out.getvalue() and run.task_id
        call_command("serve", stdout=io.StringIO(), stderr=io.StringIO())  # again: no second import or run
        assert Book.objects.count() == 1780 and TrainingRun.objects.count() == 1
    finally:
        app.control.purge()  # no worker here: leave no message for later tests
