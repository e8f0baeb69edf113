"""Model versions on disk: immutable folders and one atomically replaced pointer to the active one.

    ARTIFACTS_DIR/
      active.json                  {"version": "<id>"}, replaced with os.replace (atomic)
      staging/<random>/            a run writes here; never read by web processes
      versions/<id>/               renamed from staging when complete, then never written again
        book_vectors.npy           float32 (n_books, dim), L2-normalised rows
        link_vectors.npy           float32 (n_links, dim), L2-normalised rows
        book_ids.npy, link_ids.npy int64 catalogue ids (Book.id, Link.id) of each row
        book_tfidf.npz             scipy CSR book x link TF-IDF, the served blend's second signal (hybrid.py)
        book_groups.npz            each book's author and series codes, the served ranking's groups (book_groups.py)
        params.json                hyperparameters and catalogue counts
        output_layer.json          the trained Dense(1, sigmoid) after the cosine: kernel and bias (fold-in uses it)
        rare_links.npy             (book row, link id) of the links dropped as rare, for fold-in (rare_links.py)
        history.json               training curve (per epoch)
        metrics.json               evaluation (embedding and baselines), index recall and timing
        books.ann, links.ann       Annoy indexes (angular) over the vector rows
        book_basis.npy, book_projected.npy   a prefilter: principal axes and the rows projected on them (search.py)
        book_centres.npy, book_list_rows.npy, book_list_starts.npy   k-means lists of the rows (search.py)
                                   (and link_* of both; each only where build_indexes tuned it to the target)
        index.json                 n_trees, search_k, prefilter, lists, measured recall and the served mode of each
        similar_rows.npy, similar_scores.npy   every book's `similar` answer, k <= 50 (similar_table.py)
        map_books.npy, map_links.npy   float32 (n, 2) UMAP coordinates, rows as in book_ids/link_ids (the map)
        map.json                   the projection's settings, timing and faithfulness@10 (also metrics["map"])
        manifest.json              size and SHA-256 of every other file (embeddings/integrity.py)

The one exception to "never written again": a version published before the map existed may get its map_*.npy
and map.json added later (`manage.py project_version`, embeddings/projection.py). They are additions only, each
written under a temporary name and renamed into place (os.replace), map.json last; no existing file changes, so
a reader sees a version without a map or with a complete one. metrics.json stays as trained: the backfilled
faithfulness lives in map.json and in ModelVersion.metrics["map"].

Books folded in after training (embeddings/fold_in.py) never touch a version folder: they live in an overlay beside
it, ARTIFACTS_DIR/overlays/<id>/overlay.npz, replaced atomically as a whole (embeddings/overlay.py).

This module uses only the standard library and numpy, so web processes may import it.
"""

import json
import os
import secrets
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from embeddings.integrity import write_manifest

ACTIVE_FILE = "active.json"
REQUIRED_FILES = ("book_vectors.npy", "link_vectors.npy", "book_ids.npy", "link_ids.npy", "metrics.json")


class VersionError(RuntimeError):
    pass


def new_version_id() -> str:
    """Sortable and unique: UTC time plus a random suffix."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def version_path(root: Path, version_id: str) -> Path:
    if not version_id or "/" in version_id or version_id.startswith("."):
        raise VersionError(f"bad version id {version_id!r}")
    return Path(root) / "versions" / version_id


def make_staging_dir(root: Path, prefix: str = "") -> Path:
    staging = Path(root) / "staging"
    staging.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=staging, prefix=prefix))


def discard_staging(root: Path, prefix: str) -> int:
    """Remove the staging folders whose names start with prefix (left by a worker that died); returns how many."""
    folders = list((Path(root) / "staging").glob(prefix + "*"))
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
    return len(folders)


def publish(root: Path, staging_dir: Path, version_id: str) -> Path:
    """Move a complete staging folder to versions/<id> (one rename on the same file system)."""
    missing = [name for name in REQUIRED_FILES if not (staging_dir / name).is_file()]
    if missing:
        raise VersionError(f"cannot publish {version_id}: missing {', '.join(missing)}")
    write_manifest(staging_dir)  # sizes and checksums: web processes refuse a damaged copy
    target = version_path(root, version_id)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(staging_dir, target)
    return target


def discard(staging_dir: Path) -> None:
    shutil.rmtree(staging_dir, ignore_errors=True)


def json_safe(data: object) -> object:
    """data with numpy scalars as Python numbers and every non-finite float (NaN, inf) as None.

    A value that cannot be computed is null in JSON, never NaN: NaN is not JSON, and databases refuse it.
    """
    if isinstance(data, dict):
        return {key: json_safe(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [json_safe(value) for value in data]
    if isinstance(data, np.generic):
        data = data.item()
    if isinstance(data, float) and not np.isfinite(data):
        return None
    return data


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False))


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def activate(root: Path, version_id: str) -> None:
    """Point active.json at a published version; readers see the old or the new pointer, never half."""
    folder = version_path(root, version_id)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise VersionError(f"version {version_id} is incomplete: missing {', '.join(missing)}")
    root = Path(root)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".active-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump({"version": version_id, "activated_at": datetime.now(UTC).isoformat()}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, root / ACTIVE_FILE)


def active_version_id(root: Path) -> str | None:
    try:
        return read_json(Path(root) / ACTIVE_FILE)["version"]
    except (FileNotFoundError, KeyError, json.JSONDecodeError):
        return None


def list_versions(root: Path) -> list[str]:
    folder = Path(root) / "versions"
    return sorted((p.name for p in folder.iterdir() if p.is_dir()), reverse=True) if folder.is_dir() else []


def load_vectors(folder: Path, kind: str, mmap: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) of 'book' or 'link'; memory-mapped so processes share the pages."""
    vectors = np.load(Path(folder) / f"{kind}_vectors.npy", mmap_mode="r" if mmap else None)
    ids = np.load(Path(folder) / f"{kind}_ids.npy")
    if len(ids) != len(vectors):
        raise VersionError(f"{Path(folder).name}: {kind} ids and vectors differ in length")
    return ids, vectors
