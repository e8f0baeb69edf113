"""Finding the book data `make run` imports: BOOKS_DATA, else data/, else the original project's file."""

import urllib.request
from pathlib import Path

from tqdm import tqdm

FULL_DATA_URL = (
    "https://raw.githubusercontent.com/WillKoehrsen/wikipedia-data-science/master/data/found_books_filtered.ndjson"
)
FULL_DATA_NAME = "found_books_filtered.ndjson"


class DataUnavailable(RuntimeError):
    pass


def is_goodbooks_dir(path: Path) -> bool:
    return path.is_dir() and (path / "books.csv").is_file() and (path / "book_tags.csv").is_file()


def data_paths(books_data: str, data_dir: Path) -> list[str]:
    """BOOKS_DATA's paths (space-separated files, directories or globs), or what data/ holds."""
    if books_data.strip():
        return books_data.split()
    if data_dir.is_dir() and (any(data_dir.glob("*.ndjson")) or is_goodbooks_dir(data_dir)):
        return [str(data_dir)]
    return []


def download(url: str, target: Path, timeout: float = 30) -> Path:
    """Download to target with a progress bar; a partial file never stays behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name) as bar:
                while chunk := response.read(1 << 16):
                    out.write(chunk)
                    bar.update(len(chunk))
        partial.replace(target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DataUnavailable(
            f"Could not download {url}: {exc}.\n"
            f"Download it by hand into {target.parent}/, or point BOOKS_DATA at your data, for example:\n"
            "  BOOKS_DATA=../shared/data/wikipedia make run\n"
            "BOOKS_DATA takes ndjson files, directories of them (with book_info.tsv) or a goodbooks folder."
        ) from exc
    return target
