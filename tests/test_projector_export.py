"""Embedding Projector export: vectors.tsv, metadata.tsv and projector_config.json of a version, streamed to staff
and written by `manage.py export_projector`; never built in memory, with unsafe ids and cells refused or cleaned."""

import io
import json

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.http import StreamingHttpResponse

from embeddings import versions
from embeddings.models import ModelVersion
from recommender.catalogue.models import Book, BookLink, Link
from recommender.librarian import export

pytestmark = pytest.mark.django_db

NASTY_TITLE = "Tabs\tand\nnew\r\nlines <b>&</b>"


def publish_version(root, version_id: str, book_ids, link_ids, dim: int, seed: int = 0) -> None:
    """A published version folder with random unit vectors for the given catalogue ids (input, not a result)."""
    rng = np.random.default_rng(seed)
    staging = versions.make_staging_dir(root)
    for kind, ids in (("book", book_ids), ("link", link_ids)):
        vectors = rng.standard_normal((len(ids), dim)).astype(np.float32)
        np.save(staging / f"{kind}_vectors.npy", vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
        np.save(staging / f"{kind}_ids.npy", np.asarray(ids, dtype=np.int64))
    versions.write_json(staging / "metrics.json", {})
    versions.publish(root, staging, version_id)


@pytest.fixture
def small_version(artifacts_dir):
    books = [
        Book.objects.create(title=NASTY_TITLE, author="A\tB", genre="Science fiction", country="Mars\nEarth"),
        Book.objects.create(title="Plain", author="Someone", genre="Novel", country="UK"),
        Book.objects.create(title="Third"),
    ]
    links = [
        Link.objects.create(name="a link\twith a tab", book_count=2),
        Link.objects.create(name="plain", book_count=1),
    ]
    for book in books[:2]:
        BookLink.objects.create(book=book, link=links[0])
    BookLink.objects.create(book=books[0], link=links[1])
    publish_version(artifacts_dir, "v-small", [b.pk for b in books], [li.pk for li in links], dim=5)
    ModelVersion.objects.create(version_id="v-small", n_books=3, n_links=2)
    return {"books": books, "links": links, "folder": versions.version_path(artifacts_dir, "v-small")}


@pytest.fixture
def staff(client):
    client.force_login(User.objects.create_user("librarian", password="pw", is_staff=True))
    return client


def body(response) -> str:
    assert isinstance(response, StreamingHttpResponse) and response.streaming
    return b"".join(response.streaming_content).decode()


def test_files_rows_header_and_escaping(staff, small_version):
    base = "/training/versions/v-small/projector"
    vectors = body(staff.get(f"{base}/books/vectors.tsv")).splitlines()
    assert len(vectors) == 3
    stored = np.load(small_version["folder"] / "book_vectors.npy")
    assert np.allclose(np.array([[float(x) for x in row.split("\t")] for row in vectors]), stored, atol=1e-6)

    response = staff.get(f"{base}/books/metadata.tsv")
    assert response["Content-Type"].startswith("text/tab-separated-values")
    assert response["Content-Disposition"] == 'attachment; filename="v-small-books-metadata.tsv"'
    metadata = body(response).split("\n")
    assert metadata[-1] == "" and len(metadata) == 1 + 3 + 1  # header, one row per vector, final newline
    assert metadata[0] == "title\tauthor\tgenre\tcountry"
    rows = [line.split("\t") for line in metadata[1:-1]]
    assert all(len(row) == 4 for row in rows)  # tabs and newlines in values never break a row
    assert rows[0] == ["Tabs and new lines <b>&</b>", "A B", "Science fiction", "Mars Earth"]
    assert rows[1] == ["Plain", "Someone", "Novel", "UK"] and rows[2] == ["Third", "", "", ""]

    links = body(staff.get(f"{base}/links/metadata.tsv")).splitlines()
    assert links == ["name\tbooks", "a link with a tab\t2", "plain\t1"]
    assert len(body(staff.get(f"{base}/links/vectors.tsv")).splitlines()) == 2

    config = json.loads(body(staff.get(f"{base}/books/projector_config.json")))
    assert config["embeddings"] == [
        {
            "tensorName": "books of version v-small",
            "tensorShape": [3, 5],
            "tensorPath": "vectors.tsv",
            "metadataPath": "metadata.tsv",
        }
    ]


def test_rows_of_books_no_longer_in_the_catalogue_keep_their_place(small_version):
    gone = small_version["books"][1].pk
    Book.objects.filter(pk=gone).delete()
    rows = "".join(export.metadata_lines(small_version["folder"], "books")).splitlines()
    assert len(rows) == 4 and rows[2] == f"(book {gone}: no longer in the catalogue)\t\t\t"


def test_staff_only_and_bad_requests(client, staff, small_version):
    url = "/training/versions/v-small/projector/books/vectors.tsv"
    client.logout()
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/admin/login/" in anonymous["Location"]
    User.objects.create_user("reader", password="pw")
    client.login(username="reader", password="pw")
    assert client.get(url).status_code == 302  # logged in but not staff
    client.force_login(User.objects.get(username="librarian"))
    assert client.get(url).status_code == 200
    for bad in (
        "/training/versions/v-small/projector/books/secret.txt",
        "/training/versions/v-small/projector/authors/vectors.tsv",
        "/training/versions/no-such-version/projector/books/vectors.tsv",
        "/training/versions/..%2F..%2Fetc/projector/books/vectors.tsv",
        "/training/versions/.hidden/projector/books/vectors.tsv",
    ):
        assert client.get(bad).status_code == 404, bad
    assert client.post(url).status_code == 405


@pytest.mark.parametrize("version_id", ["../versions/v-small", "..", ".", "a/b", "v\\x", "", "x" * 65, "v-small/"])
def test_path_tricks_refused(small_version, version_id):
    with pytest.raises(export.ExportError):
        export.version_folder(version_id)


def test_export_projector_command(small_version, tmp_path):
    out = tmp_path / "projector"
    stdout = io.StringIO()
    call_command("export_projector", "v-small", "--out", str(out), stdout=stdout)
    assert (out / "books" / "metadata.tsv").read_text().splitlines()[0] == "title\tauthor\tgenre\tcountry"
    assert len((out / "books" / "vectors.tsv").read_text().splitlines()) == 3
    assert len((out / "links" / "metadata.tsv").read_text().splitlines()) == 3
    combined = json.loads((out / "projector_config.json").read_text())
    assert [e["tensorPath"] for e in combined["embeddings"]] == ["books/vectors.tsv", "links/vectors.tsv"]
    assert [e["metadataPath"] for e in combined["embeddings"]] == ["books/metadata.tsv", "links/metadata.tsv"]
    assert "wrote" in stdout.getvalue()
    with pytest.raises(CommandError, match="no version"):
        call_command("export_projector", "nope", "--out", str(out))
    with pytest.raises(CommandError, match="not a version id"):
        call_command("export_projector", "../../etc", "--out", str(out))


@pytest.mark.slow
def test_full_size_export_streams_in_small_memory(staff, artifacts_dir):
    """37,020 x 256 (the full set's books): about 100 MB of text, produced a chunk at a time."""
    n_books, dim = 37_020, 256
    ids = np.arange(1, n_books + 1)
    publish_version(artifacts_dir, "v-full", ids, ids[:10], dim=dim)
    ModelVersion.objects.create(version_id="v-full")
    response = staff.get("/training/versions/v-full/projector/books/vectors.tsv")
    assert response.streaming
    rows = size = 0
    baseline = anonymous_memory()
    peak = baseline
    for chunk in response.streaming_content:
        rows += chunk.count(b"\n")
        size += len(chunk)
        peak = max(peak, anonymous_memory())
    assert rows == n_books
    assert size > 80_000_000  # the whole file is large ...
    assert peak - baseline < 25_000_000  # ... but never held at once (the memory-mapped vectors are not counted)


def anonymous_memory() -> int:
    """Bytes of this process's anonymous memory (heap): RSS without file-backed pages such as memory maps."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    pytest.skip("no /proc/self/status RssAnon on this system")
