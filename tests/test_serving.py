"""Serving the active version: operations, the recommend rule, unknown ids, hot reload, import hygiene."""

import importlib.util
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from embeddings import serving, versions
from embeddings.indexing import build_indexes
from embeddings.search import QUERY_SETS, ListedRows, effective_search_k
from embeddings.serving import ActiveModel, NoActiveVersion, UnknownId

REPO = Path(__file__).resolve().parents[1]


def unit(rows: np.ndarray) -> np.ndarray:
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def make_version(
    root: Path,
    books: np.ndarray,
    links: np.ndarray,
    book_ids: np.ndarray,
    link_ids: np.ndarray,
    activate: bool = True,
    index_mode: str | dict[str, str] = "auto",
) -> str:
    """Stage, index, publish (and activate) a version the way the worker does."""
    staging = versions.make_staging_dir(root)
    np.save(staging / "book_vectors.npy", unit(books))
    np.save(staging / "link_vectors.npy", unit(links))
    np.save(staging / "book_ids.npy", np.asarray(book_ids, dtype=np.int64))
    np.save(staging / "link_ids.npy", np.asarray(link_ids, dtype=np.int64))
    metrics = {"index": build_indexes(staging, sample_queries=50, mode=index_mode, max_trees=10)}
    versions.write_json(staging / "metrics.json", metrics)
    version_id = versions.new_version_id()
    versions.publish(root, staging, version_id)
    if activate:
        versions.activate(root, version_id)
    return version_id


def random_version(root: Path, seed: int, n_books: int = 300, n_links: int = 100, activate: bool = True) -> str:
    rng = np.random.default_rng(seed)
    return make_version(
        root,
        rng.standard_normal((n_books, 16)),
        rng.standard_normal((n_links, 16)),
        np.arange(n_books) * 10 + 1000 * seed,  # ids differ per version and are not row numbers
        np.arange(n_links) * 3 + 5,
        activate,
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "artifacts"


@pytest.fixture
def model(root: Path) -> ActiveModel:
    return ActiveModel(root, check_interval=0.0)


def test_no_active_version(root: Path, model: ActiveModel) -> None:
    assert model.get() is None
    with pytest.raises(NoActiveVersion):
        model.similar_books(1, 5)
    with pytest.raises(NoActiveVersion):
        serving.require_active(root)
    assert serving.get_active(root) is None
    random_version(root, seed=1, activate=False)  # published but not active
    assert model.get() is None


def test_similar_books_links_and_books_for_link(root: Path, model: ActiveModel) -> None:
    version_id = random_version(root, seed=1)
    loaded = model.require()
    assert loaded.version_id == version_id and "index" in loaded.metrics and loaded.index_info["book"]["rows"] == 300
    books = np.load(root / "versions" / version_id / "book_vectors.npy")
    links = np.load(root / "versions" / version_id / "link_vectors.npy")

    similar = model.similar_books(1010, 5)  # row 1
    assert len(similar) == 5 and 1010 not in [book for book, _ in similar]
    expected_rows = np.argsort(-(books @ books[1]))[1:6]
    assert [book for book, _ in similar] == [1000 + 10 * int(r) for r in expected_rows]
    assert similar[0][1] == pytest.approx(float(books[expected_rows[0]] @ books[1]), abs=1e-6)

    assert 8 not in [link for link, _ in model.similar_links(8, 5)]  # link row 1

    for_link = model.books_for_link(8, 3)
    expected_rows = np.argsort(-(books @ links[1]))[:3]
    assert [book for book, _ in for_link] == [1000 + 10 * int(r) for r in expected_rows]


def test_books_for_link_finds_the_book_with_the_same_vector(root: Path, model: ActiveModel) -> None:
    rng = np.random.default_rng(0)
    books = rng.standard_normal((50, 8))
    links = np.vstack([books[17] * 2.0, rng.standard_normal((4, 8))])
    make_version(root, books, links, np.arange(50) + 100, np.arange(5) + 1)
    (book, similarity), *_ = model.books_for_link(1, 3)
    assert book == 117 and similarity == pytest.approx(1.0, abs=1e-6)


def test_a_version_served_from_cluster_lists_answers_as_exact_search(root: Path, model: ActiveModel) -> None:
    """Books around 150 subjects, served in mode "lists": every operation works, rows are read from the lists' copy
    (not book_vectors.npy as well), and recommend finds what an exact scan of the stored vectors finds."""
    rng = np.random.default_rng(11)
    centres = rng.standard_normal((150, 24))
    books = unit(centres[rng.integers(150, size=6_000)] + 0.3 * rng.standard_normal((6_000, 24)))
    version_id = make_version(
        root,
        books,
        rng.standard_normal((200, 24)),
        np.arange(6_000) + 1,
        np.arange(200) + 1,
        index_mode={"book": "lists"},
    )
    loaded = model.require()
    assert loaded.books.mode == "lists" and loaded.index_info["book"]["mode"] == "lists"
    assert isinstance(loaded.books.vectors, ListedRows) and isinstance(loaded.space.vectors.base, ListedRows)
    stored = np.load(root / "versions" / version_id / "book_vectors.npy")
    hits = 0
    for liked in ([5], [10, 2_000], [7, 8, 900, 4_000, 5_999]):
        found = model.recommend([i + 1 for i in liked], [], 10)
        query = unit([sum(stored[i] for i in liked) / len(liked)])[0]
        scores = stored @ query
        scores[liked] = -np.inf
        hits += len({book for book, _ in found} & set((np.argsort(-scores)[:10] + 1).tolist()))
        assert all(book - 1 not in liked for book, _ in found)
    assert hits >= 29  # recall 0.99 was the tuning's target
    similar = model.similar_books(42, 5)
    assert len(similar) == 5 and 42 not in {book for book, _ in similar}
    assert len(model.books_for_link(3, 5)) == 5


def test_each_kind_of_search_probes_the_lists_its_query_set_was_tuned_to(root: Path, model: ActiveModel) -> None:
    """recommend with likes only probes the readers' lists, a link's books the links' (cross) lists, anything else
    (dislikes push the query off the readers' kind) the most any set needed; each grown by the rows left out."""
    rng = np.random.default_rng(12)
    centres = rng.standard_normal((150, 24))
    books = unit(centres[rng.integers(150, size=6_000)] + 0.3 * rng.standard_normal((6_000, 24)))
    links = unit(centres[rng.integers(150, size=200)] + 0.3 * rng.standard_normal((200, 24)))
    make_version(root, books, links, np.arange(6_000) + 1, np.arange(200) + 1, index_mode={"book": "lists"})
    loaded = model.require()
    lists = loaded.books.lists
    assert lists.probes == loaded.index_info["book"]["lists"]["probes"] and set(lists.probes) == set(QUERY_SETS)
    lists.probes = {"own": 3, "cross": 4, "reader": 5}  # distinct, so that each search shows which it used
    lists.probe = 9
    probed = []
    scores = lists.scores
    lists.scores = lambda query, probe: probed.append(probe) or scores(query, probe)
    model.recommend([6], [], 10)  # 10 results past 1 liked book: 11 rows deep
    model.recommend([6, 7, 8, 9, 10], [], 10)
    model.recommend([6], [7], 10)
    model.books_for_link(3, 10)
    tuned_k = loaded.books.tuned_k
    expected = [(5, 11), (5, 15), (9, 12), (4, 10)]
    assert probed == [effective_search_k(probe, depth, tuned_k) for probe, depth in expected]
    assert probed[1] > probed[0]  # five liked books left out: deeper than one


def test_recommend_pulls_to_likes_and_pushes_from_dislikes(root: Path, model: ActiveModel) -> None:
    e1, e2, e3 = np.eye(3)
    books = np.array(
        [
            e1,  # 1: liked
            e2,  # 2: disliked
            e1 + 0.2 * e2,  # 3: closest to the liked book, but leans towards the disliked one
            e1 - 0.3 * e2,  # 4: a little further from the liked book, away from the disliked one
            e3,  # 5: unrelated
            -e2 + 0.1 * e3,  # 6: the opposite of the disliked book
        ]
    )
    make_version(root, books, np.eye(3), np.arange(1, 7), np.arange(1, 4))

    liked_only = model.recommend([1], [], 3)
    assert [book for book, _ in liked_only][:2] == [3, 4]
    both = model.recommend([1], [2], 3)
    assert [book for book, _ in both][:2] == [4, 3]
    # The documented rule exactly: q = normalise(L - 0.5 D).
    q = unit([e1 - 0.5 * e2])[0]
    assert both[0][1] == pytest.approx(float(unit([books[3]])[0] @ q), abs=1e-6)
    # Only dislikes: the books least like them.
    assert model.recommend([], [2], 1)[0][0] == 6
    # Inputs never come back; duplicates count once.
    everything = model.recommend([1, 1, 3], [2], 10)
    assert {book for book, _ in everything} == {4, 5, 6}
    with pytest.raises(ValueError):
        model.recommend([], [], 3)
    with pytest.raises(ValueError):
        model.recommend([1], [1], 3)


def test_unknown_ids_raise_a_key_error_naming_them(root: Path, model: ActiveModel) -> None:
    random_version(root, seed=1)
    with pytest.raises(UnknownId) as caught:
        model.recommend([1000, 999_999], [5, 1010], 3)
    assert isinstance(caught.value, KeyError)
    assert caught.value.kind == "book" and caught.value.ids == [999_999, 5]
    assert "999999" in str(caught.value)
    with pytest.raises(UnknownId) as caught:
        model.similar_links(1000, 3)  # a book id is not a link id
    assert caught.value.kind == "link" and caught.value.ids == [1000]
    with pytest.raises(KeyError):
        model.similar_books(4, 3)
    with pytest.raises(UnknownId):
        model.books_for_link(4, 3)


def test_hot_reload_without_restart(root: Path, model: ActiveModel) -> None:
    first = random_version(root, seed=1)
    old = model.require()
    assert old.version_id == first and old.similar_books(1010, 3)
    second = random_version(root, seed=2)  # activated: active.json replaced
    new = model.require()
    assert new.version_id == second and new is not old
    assert model.similar_books(2010, 3) and len(new.books) == 300
    with pytest.raises(UnknownId):
        model.similar_books(1010, 3)  # ids of the first version are gone from the active one
    assert old.similar_books(1010, 3)  # a request still holding the old version finishes on it
    assert model.require() is new  # unchanged active.json: no reload
    versions.activate(root, first)  # rolling back is just another activation
    assert model.require().version_id == first


def test_module_accessor_checks_at_most_every_interval(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = random_version(root, seed=1)
    assert serving.get_active(root).version_id == first
    assert serving.active_model(root) is serving.active_model(Path(str(root) + "/."))
    second = random_version(root, seed=2, activate=False)
    calls = []
    real_stat = serving.os.stat

    def counting_stat(path: object, *args: object, **kwargs: object) -> object:
        if str(path).endswith(versions.ACTIVE_FILE):
            calls.append(path)
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(serving.os, "stat", counting_stat)
    versions.activate(root, second)
    for _ in range(1000):
        serving.get_active(root)
    assert len(calls) <= 1  # cheap: no system call per request
    time.sleep(serving.CHECK_INTERVAL + 0.1)
    assert serving.get_active(root).version_id == second


def test_broken_or_removed_activation(root: Path, model: ActiveModel, caplog: pytest.LogCaptureFixture) -> None:
    first = random_version(root, seed=1)
    assert model.require().version_id == first
    (root / "active.json").write_text('{"version": "no-such-version"}')
    assert model.require().version_id == first  # keep serving what works
    assert "no-such-version" in caplog.text
    (root / "active.json").write_text("{not json")
    assert model.require().version_id == first
    (root / "active.json").unlink()
    with pytest.raises(NoActiveVersion):
        model.require()


def test_concurrent_readers_during_a_switch(root: Path, model: ActiveModel) -> None:
    first = random_version(root, seed=1)
    second = random_version(root, seed=2, activate=False)
    seen, errors = set(), []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                loaded = model.require()
                book = 1010 if loaded.version_id == first else 2010
                assert len(loaded.similar_books(book, 3)) == 3
                seen.add(loaded.version_id)
            except Exception as exc:  # collected and asserted on below
                errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for version_id in (second, first, second):
        time.sleep(0.05)
        versions.activate(root, version_id)
    time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors and seen == {first, second}


def test_serving_imports_no_training_stack() -> None:
    code = (
        "import sys, embeddings.serving, embeddings.search\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'umap', 'django'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    assert all(importlib.util.find_spec(name) for name in ("tensorflow", "keras", "umap"))  # installed: can fail
