"""Web processes never import TensorFlow, Keras or UMAP: a fresh process serves real requests, then looks. Nor scipy
until an answer needs its sparse matrices: the hot answers (`similar`, `recommend`) and book pages do not."""

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


ANSWER_THEN_LOOK = """
import json, sys
from recommender.wsgi import application
from django.test import Client
from recommender.catalogue.models import Link

client = Client(HTTP_HOST="localhost")
book, other = sys.argv[1], sys.argv[2]
urls = ["/healthz", f"/books/{book}/", f"/api/books/{book}/", f"/api/books/{book}/similar/?k=5"]
statuses = [client.get(url).status_code for url in urls]
liked = {"liked": [int(book), int(other)]}
statuses.append(client.post("/api/recommend/", liked, content_type="application/json").status_code)
hot = "scipy" in sys.modules
link = Link.objects.get(name="mars").pk
statuses.append(client.get(f"/api/links/{link}/books/").status_code)  # link votes: sparse matrices
print(json.dumps({"statuses": statuses, "scipy_after_hot": hot, "scipy_after_link": "scipy" in sys.modules}))
"""


def serve_then_look(script: str, trained_catalogue, *args: str) -> dict:
    book = Book.objects.get(title="Space Cadet").id
    other = Book.objects.get(title="Red Planet (novel)").id
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "ARTIFACTS_DIR": str(trained_catalogue.path.parent.parent),
        "ALLOWED_HOSTS": "localhost",
        "OPENBLAS_NUM_THREADS": "2",  # BLAS's own default on a 2-core host, so the limit checked is wsgi.py's
    }
    result = subprocess.run(
        [sys.executable, "-c", script, str(book), str(other), *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_hot_answers_load_no_scipy(trained_catalogue):
    """scipy.sparse costs a web process ~20 MB: it is imported where the TF-IDF matrices are read, not at start."""
    assert importlib.util.find_spec("scipy")  # installed (the blend and fold-in use it): the check can fail
    report = serve_then_look(ANSWER_THEN_LOOK, trained_catalogue)
    assert all(status == 200 for status in report["statuses"]), report
    assert report["scipy_after_hot"] is False
    assert report["scipy_after_link"] is True  # imported on first need, and the answer is served


def test_serving_requests_loads_no_tensorflow(trained_catalogue):
    # umap-learn, numba and TensorFlow are installed (workers use them): had a web module imported one, the
    # subprocess below would list it. pandas and scikit-learn too (training and evaluation only: tens of MB each).
    assert all(importlib.util.find_spec(name) for name in ("umap", "numba", "pynndescent", "tensorflow", "pandas"))
    report = serve_then_look(SERVE_THEN_LOOK, trained_catalogue, trained_catalogue.version_id)
    assert all(status == 200 for status in report["statuses"]), report
    assert report["heavy"] == []
    assert report["blas_threads"] == [1]  # a search's products stay in the request's thread (embeddings/search.py)
    assert all(importlib.util.find_spec(name) for name in ("tensorflow", "keras", "umap"))  # so the check can fail
