"""Fold-in: a new or edited book gets a vector from its links with the active version frozen, served from an overlay."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.test import Client

from embeddings import folding, integrity, overlay, rare_links, versions
from embeddings.book_groups import BookGroups
from embeddings.dataset import TrainingData, build_training_data
from embeddings.fold_in import OUTPUT_LAYER_FILE, FoldInModel
from embeddings.hybrid import save_tfidf
from embeddings.models import FoldIn, FoldInStatus, ModelVersion
from embeddings.rare_links import RareLinks
from embeddings.search import normalise_rows
from embeddings.serving import ActiveModel, LoadedVersion
from recommender.catalogue.frames import load_frames
from recommender.catalogue.models import Book, BookLink, Link
from recommender.fold_ins import queue_books
from tests.helpers import ROOT, clustered_data, test_database_url, wait_for


def publish_version(
    root: Path,
    data: TrainingData,
    version_id: str,
    dim: int = 16,
    seed: int = 0,
    groups: bool = False,
    rare_pairs: np.ndarray | None = None,
) -> Path:
    """A version as training would publish it, without TensorFlow: random link vectors, each book at the mean of
    its links, an output layer that separates them, with its books' series and authors when `groups` and the
    links it dropped as rare when `rare_pairs`. Activated."""
    rng = np.random.default_rng(seed)
    links = normalise_rows(rng.normal(size=(data.n_links, dim)))
    books = np.zeros((data.n_books, dim), dtype=np.float32)
    np.add.at(books, data.pairs[:, 0], links[data.pairs[:, 1]])
    staging = versions.make_staging_dir(root)
    np.save(staging / "book_vectors.npy", normalise_rows(books))
    np.save(staging / "link_vectors.npy", links)
    np.save(staging / "book_ids.npy", data.book_ids)
    np.save(staging / "link_ids.npy", data.link_ids)
    save_tfidf(staging, data.pairs, data.n_books, data.n_links)
    if groups:
        BookGroups.from_labels(data.book_authors, data.book_series, data.n_books).save(staging)
    if rare_pairs is not None:
        rare_links.save(staging, rare_pairs)
    params = {"negative_ratio": 3.0, "negative_sampling": "popularity", "popularity_power": 0.25}
    params |= {"positive_sampling": "power", "positive_power": 0.25, "seed": 1, "mode": "classification"}
    versions.write_json(staging / "params.json", {**params, **data.summary()})
    versions.write_json(staging / OUTPUT_LAYER_FILE, {"mode": "classification", "kernel": 6.0, "bias": -2.0})
    versions.write_json(staging / "metrics.json", {})
    folder = versions.publish(root, staging, version_id)
    versions.activate(root, version_id)
    return folder


def links_of(data: TrainingData, row: int) -> list[int]:
    return [int(data.link_ids[j]) for j in data.pairs[data.pairs[:, 0] == row, 1]]


def fold_into(
    root: Path, version_id: str, model: FoldInModel, book_id: int, link_ids: list[int], info: dict | None = None
) -> None:
    result = model.fold(link_ids, book_id)
    overlay.change(root, version_id, model.dim, {book_id: (result.vector, result.tfidf_columns, info or {})}, set())


# --- the optimiser and the overlay, on synthetic data --------------------------------------------------------


def test_fold_in_places_a_book_among_its_group_and_lists_unknown_links(tmp_path):
    data = clustered_data()
    folder = publish_version(tmp_path, data, "v1")
    model = FoldInModel.open(folder)
    result = model.fold([*links_of(data, 3), 999_999], book_id=5000)
    assert result.unknown_link_ids == [999_999]
    assert result.vector is not None and abs(np.linalg.norm(result.vector) - 1) < 1e-5
    again = model.fold([*links_of(data, 3), 999_999], book_id=5000)
    assert np.array_equal(result.vector, again.vector)  # seeded: a book folds to the same vector
    books = np.load(folder / "book_vectors.npy")
    nearest = np.argsort(-(books @ result.vector))[:10]
    assert (nearest < 20).sum() >= 9  # group of row 3: rows 0..19
    # the optimum: the gradient along the sphere vanishes, and the loss is below the starting point's
    assert result.iterations > 0 and result.loss is not None
    assert model.fold([999_999], 5001).vector is None  # nothing known: no vector


def test_the_links_dropped_as_rare_are_kept_with_the_books_that_stay():
    books = pd.DataFrame({"id": [1, 2, 3, 4], "title": list("abcd"), "author": "", "genre": ""})
    # links 10, 11 used by 3 books; 20 by books 1 and 2; 30 by book 3 only; 40 by book 4 only (which has no other)
    pairs = pd.DataFrame(
        [(1, 10), (2, 10), (3, 10), (1, 11), (2, 11), (3, 11), (1, 20), (2, 20), (3, 30), (4, 40)],
        columns=["book_id", "link_id"],
    )
    data = build_training_data(books, pairs, min_link_count=3)
    assert data.book_ids.tolist() == [1, 2, 3] and data.link_ids.tolist() == [10, 11]
    assert sorted(map(tuple, data.rare_pairs.tolist())) == [(0, 20), (1, 20), (2, 30)]  # book 4 left the version
    assert data.with_pairs(data.pairs[:2]).rare_pairs is data.rare_pairs


def test_a_rare_link_pulls_a_folded_book_towards_the_books_that_share_it(tmp_path):
    """A link too rare for the version, shared with one trained book of the other group, is still evidence: the
    folded book comes out nearer that book than from its known links alone, and the link is reported as used."""
    data = clustered_data()
    folder = publish_version(tmp_path, data, "v1")
    plain = FoldInModel.open(folder)
    assert plain.rare_links is None  # a version without rare_links.npy folds as before
    books = np.load(folder / "book_vectors.npy")
    sibling = 30  # of the second group; the new book's known links are the first group's
    with_rare = FoldInModel.open(folder)
    with_rare.rare_links = RareLinks(np.array([[sibling, 777_001]]))
    links = [*links_of(data, 3), 777_001, 999_999]
    before, after = plain.fold(links, 5000), with_rare.fold(links, 5000)
    assert before.rare_link_ids == [] and after.rare_link_ids == [777_001]
    assert after.unknown_link_ids == before.unknown_link_ids == [777_001, 999_999]  # no vector for either
    assert float(books[sibling] @ after.vector) > float(books[sibling] @ before.vector) + 0.05
    assert np.array_equal(after.vector, with_rare.fold(links, 5000).vector)  # still seeded
    only_rare = with_rare.fold([777_001], 5001)  # no known link, but a rare one: a vector by its sibling
    assert only_rare.vector is not None and int(np.argmax(books @ only_rare.vector)) == sibling


def test_a_folded_books_rare_link_is_served_through_the_books_that_share_it(tmp_path):
    data = clustered_data()
    sibling = 30  # of the second group; the folded books' known links are the first group's
    folder = publish_version(tmp_path, data, "v1", rare_pairs=np.array([[sibling, 777_001]]))
    model = FoldInModel.open(folder)
    fold_into(tmp_path, "v1", model, 5000, [*links_of(data, 3), 777_001])
    fold_into(tmp_path, "v1", model, 5001, links_of(data, 3))  # the same book without the rare link
    version = ActiveModel(tmp_path, check_interval=0).require()
    with_rare = version.blend.tfidf_scores(version.space.row_of_id(5000))
    without = version.blend.tfidf_scores(version.space.row_of_id(5001))
    assert with_rare[sibling] > 0 == without[sibling]  # the rare link's TF-IDF column, shared with its book
    others = np.arange(data.n_books) != sibling  # a row with one more link weighs its others a little less
    assert (with_rare[: data.n_books][others] <= without[: data.n_books][others] + 1e-6).all()
    trained = LoadedVersion.open(folder)  # trained books' own TF-IDF scores do not change with the overlay
    assert np.allclose(version.blend.tfidf_scores(3)[: data.n_books], trained.blend.tfidf_scores(3))

    def rank(book_id: int) -> int:
        return [book for book, _ in version.similar_books(book_id, 40)].index(100 + sibling)

    assert rank(5000) < rank(5001)

    # an overlay naming rare columns over a copy of the version without rare_links.npy: its known links only
    other = tmp_path / "other"
    publish_version(other, data, "v1")
    folded = model.fold([*links_of(data, 3), 777_001], 5000)
    overlay.change(other, "v1", model.dim, {5000: (folded.vector, folded.tfidf_columns, {})}, set())
    version = ActiveModel(other, check_interval=0).require()
    assert version.blend.tfidf_scores(version.space.row_of_id(5000))[sibling] == 0
    assert len(version.similar_books(5000, 10)) == 10


def test_loss_gradient_matches_finite_differences(tmp_path):
    data = clustered_data()
    model = FoldInModel.open(publish_version(tmp_path, data, "v1"))
    rng = np.random.default_rng(0)
    matrix = normalise_rows(rng.normal(size=(30, 16))).astype(np.float64)
    positive = np.arange(30) < 5
    weights = rng.random(30)
    u = rng.normal(size=16)
    u /= np.linalg.norm(u)
    _, grad = model._loss(u, matrix, positive, weights)
    direction = rng.normal(size=16)
    direction -= (direction @ u) * u  # along the sphere
    direction /= np.linalg.norm(direction)
    eps = 1e-6
    ahead = model._loss((u + eps * direction) / np.linalg.norm(u + eps * direction), matrix, positive, weights)[0]
    behind = model._loss((u - eps * direction) / np.linalg.norm(u - eps * direction), matrix, positive, weights)[0]
    assert abs((ahead - behind) / (2 * eps) - grad @ direction) < 1e-4


def test_missing_output_layer_is_estimated_from_the_version(tmp_path):
    data = clustered_data()
    folder = publish_version(tmp_path, data, "v1")
    old = FoldInModel.open(folder)
    (folder / OUTPUT_LAYER_FILE).unlink()
    model = FoldInModel.open(folder)
    assert model.output_source == "estimated" and old.output_source == "saved"
    assert model.kernel > 0  # pairs score above non-pairs
    assert model.fold(links_of(data, 3), 5000).vector is not None


def test_overlay_is_served_with_the_version_and_never_changes_its_files(tmp_path):
    data = clustered_data()
    folder = publish_version(tmp_path, data, "v1")
    before = {p.name: (p.stat().st_mtime_ns, integrity.sha256_of(p)) for p in folder.iterdir()}
    served = ActiveModel(tmp_path, check_interval=0)
    assert served.require().cache_key == "v1"
    model = FoldInModel.open(folder)
    fold_into(tmp_path, "v1", model, 5000, links_of(data, 3))
    version = served.require()
    assert version.cache_key == "v1.1" and version.is_folded_in(5000)
    found = [book for book, _ in version.similar_books(5000, 10)]
    assert len(found) == 10 and 5000 not in found
    # excluded from nothing: found by its group's books, by its links and for a reader who liked it
    assert 5000 in [book for book, _ in version.similar_books(103, 10)]
    assert 5000 in [book for book, _ in version.books_for_link(links_of(data, 3)[0], 40)]
    assert version.recommend([5000], [], 5)
    # a trained book re-folded with other links shadows its trained row: one answer per id, from the overlay
    fold_into(tmp_path, "v1", model, 103, links_of(data, 30))
    version = served.require()
    assert version.is_folded_in(103) and version.cache_key == "v1.2"
    ids = [book for book, _ in version.similar_books(130, 39)]
    assert ids.count(103) == 1 and len(set(ids)) == len(ids)
    assert (tmp_path / "overlays" / "v1" / "overlay.npz").is_file()
    after = {p.name: (p.stat().st_mtime_ns, integrity.sha256_of(p)) for p in folder.iterdir()}
    assert after == before and integrity.problems(folder, versions.REQUIRED_FILES) == []


def test_folded_books_get_the_series_and_author_terms_of_trained_books(tmp_path):
    data = clustered_data()  # rows 0..19: author "a", series s0..s3 of five books each (ids 100..119)
    folder = publish_version(tmp_path, data, "v1", groups=True)
    model = FoldInModel.open(folder)
    served = ActiveModel(tmp_path, check_interval=0)
    fold_into(tmp_path, "v1", model, 5000, links_of(data, 12), {"author": "a", "series": "s1"})  # links of s2's
    version = served.require()
    groups, row = version.blend.groups, version.space.row_of_id(5000)
    assert groups is not None and len(groups.series_codes) == data.n_books + 1
    # its series first (ids 105..109), although its links are another series' book's
    assert set(dict(version.similar_books(5000, 5))) == {105, 106, 107, 108, 109}
    assert set(groups.members(row).tolist()) == set(range(20))  # its author's books are candidates, with its term
    # a trained book of that series is answered its folded sibling with the others, ahead of every stranger
    assert set(dict(version.similar_books(107, 5))) == {105, 106, 108, 109, 5000}

    # a series the version never saw: folded books of it find each other; a placeholder author groups nobody
    fold_into(tmp_path, "v1", model, 5001, links_of(data, 3), {"author": "various", "series": "new saga"})
    fold_into(tmp_path, "v1", model, 5002, links_of(data, 17), {"author": "various", "series": "new saga"})
    version = served.require()
    assert version.similar_books(5001, 1)[0][0] == 5002 and version.similar_books(5002, 1)[0][0] == 5001
    groups = version.blend.groups
    assert groups.members(version.space.row_of_id(5001)).tolist() == [version.space.row_of_id(5002)]
    assert all(0.0 <= score <= 1.0 for _, score in version.similar_books(5001, 10))
    # a book folded before labels were kept (none in its info) is ranked by the blend alone
    fold_into(tmp_path, "v1", model, 5003, links_of(data, 30))
    version = served.require()
    assert version.blend.groups.members(version.space.row_of_id(5003)).size == 0
    assert set(dict(version.similar_books(5003, 5))) <= set(range(120, 140))


def test_folded_books_of_a_version_without_groups_are_ranked_by_the_blend(tmp_path):
    data = clustered_data()
    model = FoldInModel.open(publish_version(tmp_path, data, "v1"))  # from before book_groups.npz
    fold_into(tmp_path, "v1", model, 5000, links_of(data, 30), {"author": "a", "series": "s1"})
    version = ActiveModel(tmp_path, check_interval=0).require()
    assert version.blend.groups is None
    assert set(dict(version.similar_books(5000, 5))) <= {*range(120, 140)}


# --- the catalogue: admin save path, import, API, pages ------------------------------------------------------


def catalogue_version(root: Path, version_id: str = "v1") -> TrainingData:
    """A small catalogue in the database (two groups of books) and a version published from it."""
    data = clustered_data()
    links = Link.objects.bulk_create([Link(name=f"link {j}") for j in range(data.n_links)])
    books = Book.objects.bulk_create(
        [Book(title=f"Book {i}", author="a" if i < 20 else "b", genre="x") for i in range(data.n_books)]
    )
    BookLink.objects.bulk_create([BookLink(book=books[b], link=links[j]) for b, j in data.pairs])
    Link.objects.update(book_count=1)
    trained = build_training_data(*load_frames(), min_link_count=1)
    publish_version(root, trained, version_id)
    return trained


def add_book(title: str, links: list[Link]) -> Book:
    book = Book.objects.create(title=title, author="new")
    BookLink.objects.bulk_create([BookLink(book=book, link=link) for link in links])
    return book


@pytest.mark.django_db
def test_new_book_is_folded_flagged_refolded_on_edit_and_removed_on_delete(artifacts_dir):
    catalogue_version(artifacts_dir)
    group_a = list(Link.objects.order_by("id")[:8])
    unknown = Link.objects.create(name="a brand new link")
    book = add_book("New book", [*group_a, unknown])
    client = Client()
    assert client.get(f"/api/books/{book.pk}/similar/").status_code == 404  # no vector yet

    queue_books([book.pk])
    state = client.get(f"/api/books/{book.pk}/").json()["vector"]
    assert state["state"] == "pending"
    assert "Recommendations in a moment" in client.get(f"/books/{book.pk}/").content.decode()

    [record] = folding.fold_books([book.pk])
    assert record.status == FoldInStatus.FOLDED and record.unknown_link_ids == [unknown.pk]
    wait_for(lambda: client.get(f"/api/books/{book.pk}/similar/").status_code == 200, 5, "the overlay to be served")
    answer = client.get(f"/api/books/{book.pk}/similar/").json()
    assert answer["book"]["folded_in"] is True
    assert {r["author"] for r in answer["results"][:5]} == {"a"}  # among the books of its links
    state = client.get(f"/api/books/{book.pk}/").json()["vector"]
    assert state == {"state": "folded_in", "folded_in": True, "unknown_links": [unknown.name], "error": None}
    page = client.get(f"/books/{book.pk}/").content.decode()
    assert "folded in" in page and unknown.name in page
    neighbour = answer["results"][0]["id"]
    flagged = client.get(f"/api/books/{neighbour}/similar/?k=20").json()["results"]
    assert [r["folded_in"] for r in flagged if r["id"] == book.pk] == [True]

    # editing its links re-folds it: now among the other group's books
    vector = overlay.Overlay.read(artifacts_dir, "v1", 16).vectors[0].copy()
    BookLink.objects.filter(book=book).delete()
    BookLink.objects.bulk_create([BookLink(book=book, link=link) for link in Link.objects.order_by("id")[15:23]])
    folding.fold_books([book.pk])
    edited = overlay.Overlay.read(artifacts_dir, "v1", 16)
    assert edited.generation == 2 and not np.allclose(edited.vectors[0], vector)
    wait_for(lambda: client.get(f"/api/books/{book.pk}/similar/?k=5").status_code == 200, 5, "the new overlay")
    wait_for(
        lambda: {r["author"] for r in client.get(f"/api/books/{book.pk}/similar/?k=5").json()["results"]} == {"b"},
        5,
        "the re-folded vector",
    )
    assert "Folded-in books" in _staff_client().get("/training/").content.decode()

    book_id = book.pk
    book.delete()
    assert folding.fold_books([book_id]) == []
    assert len(overlay.Overlay.read(artifacts_dir, "v1", 16)) == 0
    assert not FoldIn.objects.filter(book_id=book_id).exists()


def _staff_client() -> Client:
    from django.contrib.auth.models import User

    client = Client()
    client.force_login(User.objects.create_user("staff", is_staff=True))
    return client


@pytest.mark.django_db
def test_fold_books_keeps_author_and_series_as_training_codes_them(artifacts_dir):
    catalogue_version(artifacts_dir)
    saga = list(Book.objects.order_by("id")[:5])  # a series of the first group, in a version trained with it
    Book.objects.filter(pk__in=[b.pk for b in saga]).update(series="saga")
    trained = build_training_data(*load_frames(), min_link_count=1)
    publish_version(artifacts_dir, trained, "v2", groups=True)
    # added in the admin: no series derived yet, but its title names it; the author written loosely
    book = add_book("Saga Six (Saga, #6)", list(Link.objects.order_by("id")[5:13]))
    Book.objects.filter(pk=book.pk).update(author="  Ann   LEE ")
    old = add_book("Stored series", list(Link.objects.order_by("id")[3:11]))
    Book.objects.filter(pk=old.pk).update(series="Saga", author="various")
    folding.fold_books([book.pk, old.pk])
    folded = overlay.Overlay.read(artifacts_dir, "v2", 16)
    assert folded.labels() == (["ann lee", "various"], ["saga", "saga"])
    version = ActiveModel(artifacts_dir, 0).require()
    siblings = {b.pk for b in saga}
    assert set(dict(version.similar_books(book.pk, 6))) == siblings | {old.pk}
    # a trained book's answer holds its folded siblings, ahead of the other books of its links
    assert set(dict(version.similar_books(saga[0].pk, 6))) == (siblings - {saga[0].pk}) | {book.pk, old.pk}


@pytest.mark.django_db
def test_import_of_new_lines_queues_them(artifacts_dir, tmp_path):
    from recommender.catalogue.importer import Importer
    from recommender.catalogue.sources import read_wikipedia

    catalogue_version(artifacts_dir)
    Book.objects.update(source="wikipedia")
    line = json.dumps(["Imported novel", {"author": "x"}, ["link 1", "link 2", "never seen"], [], "", 100])
    path = tmp_path / "new.ndjson"
    path.write_text(line + "\n")
    importer = Importer("wikipedia", report=lambda _: None, progress=False)
    summary = importer.write(importer.collect(read_wikipedia(path)))
    book = Book.objects.get(title="Imported novel")
    assert summary.books_with_new_links == {book.pk} and "queued" in summary.fold_in
    assert FoldIn.objects.get(book_id=book.pk).status == FoldInStatus.QUEUED
    [record] = folding.fold_books([book.pk])
    assert record.n_links == 2
    assert Link.objects.get(pk=record.unknown_link_ids[0]).name == "never seen"


@pytest.mark.django_db
def test_the_next_full_version_takes_the_book_in(artifacts_dir):
    catalogue_version(artifacts_dir)
    book = add_book("New book", list(Link.objects.order_by("id")[:8]))
    folding.fold_books([book.pk])
    assert ActiveModel(artifacts_dir, 0).require().is_folded_in(book.pk)
    # a full training run reads the catalogue, new book included, and publishes v2
    publish_version(artifacts_dir, build_training_data(*load_frames(), min_link_count=1), "v2")
    ModelVersion.objects.create(version_id="v2", is_active=True)
    [record] = folding.refold_after_training("v2")
    assert record.status == FoldInStatus.TRAINED and record.version_id == "v2"
    version = ActiveModel(artifacts_dir, 0).require()
    assert version.version_id == "v2" and not version.is_folded_in(book.pk) and version.knows_book(book.pk)
    assert len(version.overlay) == 0
    assert Client().get(f"/api/books/{book.pk}/similar/").json()["book"]["folded_in"] is False


def test_survives_a_restart_of_the_web_processes(transactional_db, artifacts_dir):
    catalogue_version(artifacts_dir)
    book = add_book("New book", list(Link.objects.order_by("id")[:8]))
    folding.fold_books([book.pk])
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "ARTIFACTS_DIR": str(artifacts_dir),
        "ALLOWED_HOSTS": "localhost",
    }
    script = (
        "from recommender.wsgi import application\nfrom django.test import Client\nimport json, sys\n"
        f"print(json.dumps(Client(HTTP_HOST='localhost').get('/api/books/{book.pk}/similar/').json()['book']))\n"
        "print(sorted(m for m in {n.split('.')[0] for n in sys.modules} if m in ('tensorflow', 'keras', 'umap')))"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    described, heavy = result.stdout.strip().splitlines()[-2:]
    assert json.loads(described)["folded_in"] is True and heavy == "[]"


def test_a_worker_folds_a_saved_book(celery_worker_process, artifacts_dir):
    from django.db import transaction

    catalogue_version(artifacts_dir)
    with transaction.atomic():  # as the admin's save: the task is sent when the transaction commits
        book = add_book("Saved in the admin", list(Link.objects.order_by("id")[:8]))
        queue_books([book.pk])
    client = Client()
    wait_for(lambda: client.get(f"/api/books/{book.pk}/similar/").status_code == 200, 30, "the worker's fold-in")
    assert FoldIn.objects.get(book_id=book.pk).status == FoldInStatus.FOLDED


def test_web_version_objects_stay_unchanged_by_a_fold_in(tmp_path):
    """Requests holding the LoadedVersion of before a fold-in finish on it (a new object serves the overlay)."""
    data = clustered_data()
    folder = publish_version(tmp_path, data, "v1")
    served = ActiveModel(tmp_path, check_interval=0)
    before = served.require()
    fold_into(tmp_path, "v1", FoldInModel.open(folder), 5000, links_of(data, 3))
    assert isinstance(before, LoadedVersion) and not before.is_folded_in(5000)
    assert served.require() is not before and served.require().is_folded_in(5000)
