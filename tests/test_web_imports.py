"""Web processes never import TensorFlow, Keras or UMAP: a fresh process serves real requests, then looks."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from recommender.catalogue.models import Book
from tests.helpers import ROOT, test_database_url

pytestmark = pytest.mark.django_db

SERVE_THEN_LOOK = """
import json, sys
from recommender.wsgi import application  # what the web server loads
import recommender.librarian.views  # the retraining page (staff only) shows TrainParams' defaults
from django.test import Client

client = Client(HTTP_HOST="localhost")
book, other = sys.argv[1], sys.argv[2]
statuses = [
    client.get(url).status_code
    for url in ["/healthz", "/books/", f"/books/{book}/", f"/api/books/{book}/", f"/api/books/{book}/similar/?k=5",
                "/api/books/?q=mars", "/api/links/?q=mars", "/api/schema/",
                "/map/", "/map/links/", "/map/data/books.json", "/map/data/links.json"]
]
liked = {"liked": [int(book), int(other)]}
statuses.append(client.post("/api/recommend/", liked, content_type="application/json").status_code)
# staff pages that open version folders (comparison, Projector export), as an unsaved staff user: the test's
# transaction holds the database, so this process only reads
from django.contrib.auth.models import User
from django.test import RequestFactory
from recommender.librarian import views

def as_staff(view, path, **kwargs):
    request = RequestFactory(HTTP_HOST="localhost").get(path)
    request.user = User(username="staff", is_staff=True, is_active=True)
    return view(request, **kwargs)

version = sys.argv[3]
statuses.append(as_staff(views.show_versions, f"/training/versions/?books={book}").status_code)
export = as_staff(views.download_projector, "/", version_id=version, kind="books", name="vectors.tsv")
b"".join(export.streaming_content)
statuses += [export.status_code, client.get("/model-status/").status_code]
heavy = sorted(
    {name.split(".")[0] for name in sys.modules}
    & {"tensorflow", "keras", "umap", "tf_keras", "numba", "pynndescent", "pandas", "sklearn"}
)
from threadpoolctl import threadpool_info
blas_threads = sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})
print(json.dumps({"statuses": statuses, "heavy": heavy, "blas_threads": blas_threads}))
"""


def test_serving_requests_loads_no_tensorflow(trained_catalogue):
    # umap-learn, numba and TensorFlow are installed (workers use them): had a web module imported one, the
    # subprocess below would list it. pandas and scikit-learn too (training and evaluation only: tens of MB each).
    assert all(importlib.util.find_spec(name) for name in ("umap", "numba", "pynndescent", "tensorflow", "pandas"))
    book = Book.objects.get(title="Space Cadet").id
    other = Book.objects.get(title="Red Planet (novel)").id
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "ARTIFACTS_DIR": str(trained_catalogue.path.parent.parent),
        "ALLOWED_HOSTS": "localhost",
        "OPENBLAS_NUM_THREADS": "2",  # BLAS's own default on a 2-core host, so the limit below is wsgi.py's
    }
    result = subprocess.run(
        [sys.executable, "-c", SERVE_THEN_LOOK, str(book), str(other), trained_catalogue.version_id],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(status == 200 for status in report["statuses"]), report
    assert report["heavy"] == []
    assert report["blas_threads"] == [1]  # a search's products stay in the request's thread (embeddings/search.py)
    assert all(importlib.util.find_spec(name) for name in ("tensorflow", "keras", "umap"))  # so the check can fail
