"""The map's data and pages over the sample's trained version (whose run projected it), their empty states, and
`manage.py project_version`, which gives a version trained before maps existed its map, added beside its files."""

import base64
import gzip
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.template.defaultfilters import floatformat

from embeddings import mapping, overlay, projection, versions
from embeddings.models import PHASE_SHARES, ModelVersion, TrainingRun
from embeddings.search import normalise_rows
from recommender.catalogue.models import Book, Link
from recommender.map import map_data

pytestmark = pytest.mark.django_db

MAP_FILES = ("map_books.npy", "map_links.npy", "map.json")


@pytest.fixture
def trained(trained_catalogue, db):
    return trained_catalogue


@pytest.fixture
def trained_folder(trained_catalogue) -> Path:
    """The trained version's folder, read before a test's own `artifacts_dir` replaces ARTIFACTS_DIR."""
    return trained_catalogue.path


def decode(typed: dict) -> np.ndarray:
    dtypes = {"u1": "<u1", "u2": "<u2", "u4": "<u4", "i4": "<i4", "f4": "<f4"}
    return np.frombuffer(base64.b64decode(typed["bdata"]), dtype=dtypes[typed["dtype"]])


def copy_without_map(source: Path, root: Path, version_id: str) -> Path:
    target = versions.version_path(root, version_id)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*MAP_FILES))
    return target


def test_genre_parts_split_lower_and_drop_novel_where_it_says_so():
    assert map_data.genre_parts("Fantasy novel; Science fiction / HORROR") == ["fantasy", "science fiction", "horror"]
    assert map_data.genre_parts("Novel") == ["novel"]
    assert map_data.genre_parts("Graphic novel, fantasy novels, Fantasy") == ["graphic novel", "fantasy"]
    assert map_data.genre_parts("  ") == [] and map_data.genre_parts(None) == []


def test_colour_groups_keep_the_most_common_and_call_the_rest_other():
    values = [["a"], ["a", "b"], ["b"], ["c"], [], ["d", "a"], ["a"]]
    labels, codes = map_data.colour_groups(values, limit=2)
    assert labels == ["a", "b", "other", "unknown"]
    assert [labels[code] for code in codes] == ["a", "a", "b", "other", "unknown", "a", "a"]
    assert codes.dtype == np.uint8


def test_link_groups_bucket_by_books():
    labels, codes = map_data.link_groups([1, 2, 3, 4, 7, 12, 30, 500])
    assert [labels[c] for c in codes] == [
        "1 book", "2 books", "3–4 books", "3–4 books", "5–9 books", "10–24 books", "25–99 books", "100+ books"
    ]  # fmt: skip


def test_the_run_projected_books_and_links_as_its_last_phase(trained):
    folder = trained.path
    book_ids, link_ids = np.load(folder / "book_ids.npy"), np.load(folder / "link_ids.npy")
    books, links = np.load(folder / "map_books.npy"), np.load(folder / "map_links.npy")
    assert books.shape == (len(book_ids), 2) and books.dtype == np.float32 and np.isfinite(books).all()
    assert links.shape == (len(link_ids), 2) and links.dtype == np.float32 and np.isfinite(links).all()
    assert books.std(axis=0).min() > 0.1  # spread out, not collapsed to a point
    info = versions.read_json(folder / "map.json")
    assert info == versions.read_json(folder / "metrics.json")["map"] == trained.metrics["map"]
    assert info["n_neighbors"] == 15 and info["metric"] == "cosine" and info["seed"] == trained.params["seed"]
    for part, n in (("books", len(book_ids)), ("links", len(link_ids))):
        assert info[part]["points"] == n
        assert 0.0 < info[part]["faithfulness@10"] <= 1.0
    run = TrainingRun.objects.get(pk=trained.run_id)
    assert run.phase == "projection" and "projection" in PHASE_SHARES


def test_book_map_data_has_every_book_with_names_and_colours(trained):
    data = map_data.payload("book")
    assert data.version_id == trained.version_id and map_data.payload("book") is data  # built once per version
    assert gzip.decompress(data.gzipped) == data.raw
    document = json.loads(data.raw)
    # the first render's document holds no text but the colourings' labels; the names travel apart
    assert set(document) == {"version", "kind", "points", "bounds", "x", "y", "ids", "colourings"}
    names_data = map_data.payload("book", part="names")
    assert names_data.etag != data.etag and map_data.payload("book", trained.version_id, "names") is names_data
    names = json.loads(names_data.raw)
    assert set(names) == {"version", "kind", "points", "titles", "authors", "genres"}
    assert names["version"] == trained.version_id and names["points"] == document["points"]
    n = document["points"]
    book_ids = np.load(trained.path / "book_ids.npy")
    ids = np.cumsum(decode(document["ids"]))
    assert n == len(book_ids) == trained.n_books and np.array_equal(ids, book_ids)
    x, y = decode(document["x"]), decode(document["y"])
    assert x.shape == y.shape == (n,) and x.dtype == np.uint16 and x.max() == 65535 and x.min() == 0
    coords = np.load(trained.path / "map_books.npy")
    x0, x1, y0, y1 = document["bounds"]
    assert np.allclose(x0 + x / 65535 * (x1 - x0), coords[:, 0], atol=(x1 - x0) / 60000)
    assert np.allclose(y0 + y / 65535 * (y1 - y0), coords[:, 1], atol=(y1 - y0) / 60000)

    watership = Book.objects.get(title="Watership Down")
    row = int(np.searchsorted(ids, watership.pk))
    assert names["titles"][row] == "Watership Down" and len(names["titles"]) == n
    assert names["authors"]["values"][decode(names["authors"]["codes"])[row]] == watership.author
    assert names["genres"]["values"][decode(names["genres"]["codes"])[row]] == watership.genre

    assert set(document["colourings"]) == {"genre", "country", "author"}
    for colouring in document["colourings"].values():
        labels, codes = colouring["labels"], decode(colouring["codes"])
        assert labels[-2:] == ["other", "unknown"] and len(labels) <= map_data.GROUPS_COLOURED + 2
        assert codes.shape == (n,) and codes.max() < len(labels)
        assert (codes == labels.index("other")).any()  # the sample has more than 12 values of each
    genre = document["colourings"]["genre"]
    genre_codes = decode(genre["codes"])
    assert "fantasy" in genre["labels"] and "fantasy novel" not in genre["labels"]
    assert genre["labels"][genre_codes[row]] in map_data.genre_parts(watership.genre)
    genres = names["genres"]
    no_genre = [i for i, code in enumerate(decode(genres["codes"])) if not genres["values"][code]]
    assert no_genre and all(genre["labels"][genre_codes[i]] == "unknown" for i in no_genre)


def test_link_map_data(trained):
    document = json.loads(map_data.payload("link").raw)
    names = json.loads(map_data.payload("link", part="names").raw)
    link_ids = np.load(trained.path / "link_ids.npy")
    assert document["points"] == len(link_ids) and np.array_equal(np.cumsum(decode(document["ids"])), link_ids)
    assert "titles" not in document and names["points"] == len(link_ids) == len(names["titles"])
    first = Link.objects.get(pk=int(link_ids[0]))
    assert names["titles"][0] == first.name and decode(names["book_counts"])[0] == first.book_count
    colouring = document["colourings"]["books"]
    assert decode(colouring["codes"]).max() < len(colouring["labels"])


def test_map_data_view_sends_precompressed_json_cached_per_version(client, trained):
    response = client.get(f"/map/data/books.json?version={trained.version_id}", HTTP_ACCEPT_ENCODING="gzip, br")
    assert response.status_code == 200 and response["Content-Encoding"] == "gzip"
    assert "immutable" not in response["Cache-Control"] and "max-age=31536000" in response["Cache-Control"]
    assert "Accept-Encoding" in response["Vary"]
    assert json.loads(gzip.decompress(response.content))["version"] == trained.version_id
    plain = client.get("/map/data/links.json")
    assert plain.status_code == 200 and "Content-Encoding" not in plain and json.loads(plain.content)["kind"] == "link"
    again = client.get(f"/map/data/books.json?version={trained.version_id}", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304
    names = client.get(f"/map/data/books-names.json?version={trained.version_id}", HTTP_ACCEPT_ENCODING="gzip")
    assert names.status_code == 200 and names["ETag"] != response["ETag"]
    assert "max-age=31536000" in names["Cache-Control"]
    assert "Watership Down" in json.loads(gzip.decompress(names.content))["titles"]
    # the other part's ETag is no validator for this one
    mixed = client.get(f"/map/data/books-names.json?version={trained.version_id}", HTTP_IF_NONE_MATCH=response["ETag"])
    assert mixed.status_code == 200
    links = client.get("/map/data/links-names.json")
    assert links.status_code == 200 and links["Cache-Control"] == "public, max-age=10"


def test_place_folded_takes_the_mean_position_of_the_nearest_trained_books():
    rng = np.random.default_rng(0)
    vectors = normalise_rows(rng.normal(size=(30, 4)).astype(np.float32))
    coords = rng.normal(size=(30, 2)).astype(np.float32)
    query = normalise_rows(vectors[[0]] + 0.1)
    placed = map_data.place_folded(vectors, coords, query, np.array([0]))  # row 0 shadowed: never a neighbour
    nearest = [r for r in np.argsort(-(vectors @ query[0]), kind="stable") if r != 0][: map_data.PLACED_NEIGHBOURS]
    assert np.allclose(placed[0], coords[nearest].mean(axis=0))
    assert map_data.place_folded(vectors[:0], coords[:0], query, np.zeros(0, dtype=np.int64)).shape == (1, 2)


def test_folded_books_are_on_the_map_near_their_neighbours_and_renew_its_data(client, trained, settings):
    folder, version_id = trained.path, trained.version_id
    vectors, ids = np.load(folder / "book_vectors.npy"), np.load(folder / "book_ids.npy")
    coords = np.load(folder / "map_books.npy")
    before = map_data.payload("book")
    book = Book.objects.create(title="A folded-in novel", author="x", genre="fantasy")
    edited = int(ids[5])  # a trained book folded again after an edit of its links: drawn once, placed too
    new_vector = normalise_rows(vectors[[10]] + vectors[[20]])[0]
    folded = {
        book.pk: (new_vector, np.array([0], dtype=np.int32), {}),
        edited: (vectors[7], np.array([1], dtype=np.int32), {}),
    }
    overlay.change(settings.ARTIFACTS_DIR, version_id, vectors.shape[1], folded, set())
    try:
        data = map_data.payload("book")
        assert data is not before and data.generation == 1 and data.etag != before.etag
        document = json.loads(data.raw)
        drawn = np.cumsum(decode(document["ids"]))
        assert document["points"] == len(ids) + 1 and list(drawn).count(edited) == 1
        rows = decode(document["folded"]["rows"])
        assert document["folded"]["note"] == "folded in, placed near its neighbours"
        assert sorted(drawn[rows].tolist()) == sorted([book.pk, edited])
        row = int(rows[drawn[rows].tolist().index(book.pk)])
        neighbours = [r for r in np.argsort(-(vectors @ new_vector)) if r != 5][: map_data.PLACED_NEIGHBOURS]
        x0, x1, y0, y1 = document["bounds"]
        at = (x0 + decode(document["x"])[row] / 65535 * (x1 - x0), y0 + decode(document["y"])[row] / 65535 * (y1 - y0))
        assert np.allclose(at, coords[neighbours].mean(axis=0), atol=(x1 - x0) / 30000)
        names = json.loads(map_data.payload("book", part="names").raw)
        assert names["titles"][row] == "A folded-in novel" and names["points"] == document["points"]
        assert map_data.payload("link").generation == 0  # links are not folded in

        # the page names the overlay in the data's URL, cached for long; a URL naming another overlay, briefly
        assert f"books.json?version={version_id}&amp;folded=1" in client.get("/map/").text
        named = client.get(f"/map/data/books.json?version={version_id}&folded=1")
        assert named["ETag"] == data.etag and "max-age=31536000" in named["Cache-Control"]
        assert client.get(f"/map/data/books.json?version={version_id}")["Cache-Control"] == "public, max-age=10"

        overlay.change(settings.ARTIFACTS_DIR, version_id, vectors.shape[1], {}, {book.pk})
        again = map_data.payload("book")
        assert again.generation == 2 and json.loads(again.raw)["points"] == len(ids)
    finally:
        shutil.rmtree(overlay.overlay_dir(settings.ARTIFACTS_DIR, version_id))
        map_data.forget_payloads()


def test_map_data_of_unknown_bad_or_unprojected_versions_is_a_clear_error(client, trained, settings):
    unknown = client.get("/map/data/books.json?version=20990101-000000-abcdef")
    assert unknown.status_code == 404 and unknown.json()["reason"] == "unknown-version"
    bad = client.get("/map/data/books.json?version=.hidden")
    assert bad.status_code == 400 and "bad version id" in bad.json()["error"]
    copy_without_map(trained.path, settings.ARTIFACTS_DIR, "20000101-000000-nomap0")
    try:
        missing = client.get("/map/data/books.json?version=20000101-000000-nomap0")
        assert missing.status_code == 404 and missing.json()["reason"] == "no-map"
        with pytest.raises(map_data.MapUnavailable):
            map_data.payload("link", "20000101-000000-nomap0")
        names = client.get("/map/data/links-names.json?version=20000101-000000-nomap0")
        assert names.status_code == 404 and names.json()["reason"] == "no-map"
        assert not map_data.status("book", "20000101-000000-nomap0").ready
    finally:
        shutil.rmtree(versions.version_path(settings.ARTIFACTS_DIR, "20000101-000000-nomap0"))


def test_map_page_and_the_book_pages_link_to_it(client, trained):
    response = client.get("/map/")
    assert response.status_code == 200
    html = response.text
    assert "/static/vendor/plotly/plotly-gl2d-3.7.0.min.js" in html and "/static/js/map.js" in html
    assert f'data-data-url="/map/data/books.json?version={trained.version_id}"' in html
    assert f'data-names-url="/map/data/books-names.json?version={trained.version_id}"' in html
    assert "Faithfulness@10" in html and "project_version" not in html
    links = client.get("/map/links/")
    assert links.status_code == 200 and 'data-api="/api/links/"' in links.text
    book = Book.objects.get(title="Watership Down")
    assert f'href="/map/?book={book.pk}"' in client.get(f"/books/{book.pk}/").text


def test_map_page_without_any_version_says_how_to_get_one(client, artifacts_dir):
    response = client.get("/map/")
    assert response.status_code == 200
    assert "no model has been trained" in response.text and "manage.py train --wait" in response.text
    assert "map.js" not in response.text
    assert client.get("/map/data/books.json").json()["reason"] == "no-version"


def test_map_page_of_a_version_without_projection_says_how_to_add_one(client, trained_folder, artifacts_dir):
    copy_without_map(trained_folder, artifacts_dir, "20000101-000000-nomap1")
    versions.activate(artifacts_dir, "20000101-000000-nomap1")
    response = client.get("/map/links/")
    assert response.status_code == 200
    assert "python manage.py project_version 20000101-000000-nomap1" in response.text
    assert "map.js" not in response.text


def digests(folder) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


@pytest.mark.slow
def test_project_version_adds_the_same_map_the_run_made_and_changes_nothing_else(
    trained_catalogue, trained_folder, artifacts_dir
):
    old_id = "20000101-000000-before"
    folder = versions.version_path(artifacts_dir, old_id)
    shutil.copytree(trained_folder, folder, ignore=shutil.ignore_patterns(*MAP_FILES))
    metrics = {k: v for k, v in trained_catalogue.metrics.items() if k != "map"}
    version = ModelVersion.objects.create(
        version_id=old_id, params=trained_catalogue.params, metrics=metrics, n_books=trained_catalogue.n_books
    )
    before = digests(folder)
    assert [v.version_id for v in mapping.versions_missing_a_map()] == [old_id]

    out = io.StringIO()
    call_command("project_version", "--all-missing", stdout=out, stderr=io.StringIO())
    assert f"{old_id}: map of {trained_catalogue.n_books} books" in out.getvalue()

    after = digests(folder)
    assert {name: after[name] for name in before} == before  # additions only
    assert set(after) - set(before) == set(MAP_FILES)
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary files left
    # the same vectors and seed give the same map as the training run's
    for name in ("map_books.npy", "map_links.npy"):
        assert np.array_equal(np.load(folder / name), np.load(trained_folder / name))
    version.refresh_from_db()
    assert version.metrics["map"] == versions.read_json(folder / "map.json")
    assert (
        version.metrics["map"]["books"]["faithfulness@10"]
        == trained_catalogue.metrics["map"]["books"]["faithfulness@10"]
    )
    assert "link_auc" in version.metrics["embedding"]  # the rest of the metrics kept

    again = io.StringIO()
    call_command("project_version", "--all-missing", stdout=again, stderr=io.StringIO())
    assert "every version has a map" in again.getvalue()
    assert projection.has_projection(folder)


def test_project_version_refuses_unknown_versions_and_bad_arguments(db, artifacts_dir):
    with pytest.raises(CommandError, match="no version 'nope'"):
        call_command("project_version", "nope", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="either a VERSION or --all-missing"):
        call_command("project_version", stdout=io.StringIO(), stderr=io.StringIO())


def test_training_page_shows_each_versions_map_faithfulness(client, trained, django_user_model):
    client.force_login(django_user_model.objects.create_user("librarian", password="x", is_staff=True))
    html = client.get("/training/").text
    score = trained.metrics["map"]["books"]["faithfulness@10"]
    assert "Map F@10" in html and f"<td>{floatformat(score, 3)}</td>" in html
