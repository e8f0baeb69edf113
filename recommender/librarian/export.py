"""Embedding Projector (projector.tensorflow.org) files of a model version, produced as streams of text chunks.

    vectors.tsv            one row per book (or link), tab-separated floats, in the version's row order
    metadata.tsv           a header row, then one row per vector: title, author, genre, country (links: name, books)
    projector_config.json  points the Projector at the two files

Rows are read from the memory-mapped .npy files and the catalogue a chunk at a time, so an export of any size is
never held in memory: the download view hands the generators to a StreamingHttpResponse and `export_projector`
writes them to files.
"""

import json
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from django.conf import settings

from embeddings import versions
from recommender.catalogue.models import Book, Link

KINDS = ("books", "links")
FILES = ("vectors.tsv", "metadata.tsv", "projector_config.json")
CHUNK_ROWS = 256  # rows per chunk: 256 x 256 floats are about 2 MB of Python objects while formatted
VERSION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
COLUMNS = {"books": ("title", "author", "genre", "country"), "links": ("name", "books")}
UNSAFE = re.compile(r"[\t\r\n\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]+")


class ExportError(ValueError):
    """A version or file that cannot be exported (bad id, no such version, unknown kind)."""


def version_folder(version_id: str) -> Path:
    """The folder of a published version; ids that could leave versions/ (slashes, dots, ..) are refused."""
    if not isinstance(version_id, str) or not VERSION_ID.fullmatch(version_id) or ".." in version_id:
        raise ExportError(f"not a version id: {version_id!r}")
    root = (Path(settings.ARTIFACTS_DIR) / "versions").resolve()
    folder = versions.version_path(settings.ARTIFACTS_DIR, version_id).resolve()
    if folder.parent != root or not (folder / "book_vectors.npy").is_file():
        raise ExportError(f"no version {version_id} in {root}")
    return folder


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ExportError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    return kind


def _arrays(folder: Path, kind: str) -> tuple[np.ndarray, np.ndarray]:
    return versions.load_vectors(folder, kind[:-1], mmap=True)  # "books" -> book_vectors.npy, memory-mapped


def safe_cell(value: object) -> str:
    """A TSV cell: tabs, newlines and other control characters become one space (the Projector splits on them)."""
    return UNSAFE.sub(" ", "" if value is None else str(value)).strip()


def vector_lines(folder: Path, kind: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[str]:
    """vectors.tsv a chunk of rows at a time; float32 values written with 7 significant digits."""
    _, vectors = _arrays(folder, check_kind(kind))
    row_format = "\t".join(["%.7g"] * vectors.shape[1]) + "\n"  # one % per row: the fastest pure-Python way
    for start in range(0, len(vectors), chunk_rows):
        block = np.asarray(vectors[start : start + chunk_rows], dtype=np.float32).tolist()
        yield "".join(row_format % tuple(row) for row in block)


def _book_rows(ids: list[int]) -> dict[int, tuple]:
    rows = Book.objects.filter(pk__in=ids).values_list("id", "title", "author", "genre", "country")
    return {row[0]: row[1:] for row in rows}


def _link_rows(ids: list[int]) -> dict[int, tuple]:
    return {row[0]: row[1:] for row in Link.objects.filter(pk__in=ids).values_list("id", "name", "book_count")}


def metadata_lines(folder: Path, kind: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[str]:
    """metadata.tsv: the header, then one row per vector row; rows whose id left the catalogue say so."""
    ids, _ = _arrays(folder, check_kind(kind))
    columns = COLUMNS[kind]
    fetch = _book_rows if kind == "books" else _link_rows
    yield "\t".join(columns) + "\n"
    for start in range(0, len(ids), chunk_rows):
        chunk = [int(i) for i in ids[start : start + chunk_rows]]
        found = fetch(chunk)
        lines = []
        for catalogue_id in chunk:
            values = found.get(catalogue_id)
            if values is None:  # a stale version: the catalogue was replaced since
                values = (f"({kind[:-1]} {catalogue_id}: no longer in the catalogue)",) + ("",) * (len(columns) - 1)
            lines.append("\t".join(safe_cell(v) for v in values) + "\n")
        yield "".join(lines)


def projector_config(folder: Path, kinds: tuple[str, ...], prefix: bool = False) -> dict:
    """The Projector's config; paths are relative to the config (each kind in its own folder when prefix)."""
    embeddings = []
    for kind in kinds:
        _, vectors = _arrays(folder, check_kind(kind))
        base = f"{kind}/" if prefix else ""
        embeddings.append(
            {
                "tensorName": f"{kind} of version {folder.name}",
                "tensorShape": [int(vectors.shape[0]), int(vectors.shape[1])],
                "tensorPath": f"{base}vectors.tsv",
                "metadataPath": f"{base}metadata.tsv",
            }
        )
    return {"embeddings": embeddings}


def file_chunks(folder: Path, kind: str, name: str) -> Iterator[str]:
    """The chunks of one export file of one kind."""
    check_kind(kind)
    if name == "vectors.tsv":
        return vector_lines(folder, kind)
    if name == "metadata.tsv":
        return metadata_lines(folder, kind)
    if name == "projector_config.json":
        return iter([json.dumps(projector_config(folder, (kind,)), indent=2) + "\n"])
    raise ExportError(f"file must be one of {', '.join(FILES)}, not {name!r}")


def export_to(folder: Path, out_dir: Path) -> list[Path]:
    """Write every file of both kinds under out_dir/<kind>/, and a projector_config.json naming both."""
    written = []
    for kind in KINDS:
        for name in FILES:
            path = out_dir / kind / name
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="") as handle:
                for chunk in file_chunks(folder, kind, name):
                    handle.write(chunk)
            written.append(path)
    combined = out_dir / "projector_config.json"
    combined.write_text(json.dumps(projector_config(folder, KINDS, prefix=True), indent=2) + "\n")
    written.append(combined)
    return written
