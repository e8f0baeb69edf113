"""Web processes never import TensorFlow, Keras or UMAP: a fresh process serves real requests, then looks."""

import json
import os
import subprocess
import sys

import pytest

from recommender.catalogue.models import Book
from tests.conftest import ROOT, test_database_url

pytestmark = pytest.mark.django_db

SERVE_THEN_LOOK = """
import json, sys
from recommender.wsgi import application  # what gunicorn loads
import recommender.librarian.views  # the retraining page (staff only) shows TrainParams' defaults
from django.test import Client

client = Client(HTTP_HOST="localhost")
book, other = sys.argv[1], sys.argv[2]
statuses = [
    client.get(url).status_code
    for url in ["/healthz", "/books/", f"/books/{book}/", f"/api/books/{book}/", f"/api/books/{book}/similar/?k=5",
                "/api/books/?q=mars", "/api/links/?q=mars", "/api/schema/"]
]
liked = {"liked": [int(book), int(other)]}
statuses.append(client.post("/api/recommend/", liked, content_type="application/json").status_code)
heavy = sorted({name.split(".")[0] for name in sys.modules} & {"tensorflow", "keras", "umap", "tf_keras"})
print(json.dumps({"statuses": statuses, "heavy": heavy}))
"""


def test_serving_requests_loads_no_tensorflow(trained_catalogue):
    book = Book.objects.get(title="Space Cadet").id
    other = Book.objects.get(title="Red Planet (novel)").id
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "ARTIFACTS_DIR": str(trained_catalogue.path.parent.parent),
        "ALLOWED_HOSTS": "localhost",
    }
    result = subprocess.run(
        [sys.executable, "-c", SERVE_THEN_LOOK, str(book), str(other)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert all(status == 200 for status in report["statuses"]), report
    assert report["heavy"] == []
