"""One dump file in, one ndjson file out: resumable, and never a partial file under the final name."""

import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from recommender.catalogue.wikidump.books import may_be_book, parse_book, raw_marks, to_line
from recommender.catalogue.wikidump.reader import DumpError, PageStream, ProgressCallback


@dataclass
class FileResult:
    source: str
    output: str
    skipped: bool = False  # the output was already complete
    pages: int = 0
    candidates: int = 0  # articles the pre-filter passed to mwparserfromhell
    books: int = 0
    compressed_bytes: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        if self.skipped:
            return f"{self.source}: skipped, {self.output} is complete"
        rate = self.pages / self.seconds if self.seconds else 0.0
        return (
            f"{self.source}: {self.books:,} books of {self.pages:,} pages "
            f"({self.candidates:,} parsed) in {self.seconds:.1f} s, {rate:,.0f} pages/s -> {self.output}"
        )


def output_name(source: Path) -> str:
    """enwiki-...-pages-articles15.xml-p7744803p9244803.bz2 -> enwiki-...-pages-articles15-p7744803p9244803.ndjson"""
    name = source.name
    if name.endswith(".bz2"):
        name = name[: -len(".bz2")]
    return name.replace(".xml", "", 1) + ".ndjson"


def output_path(source: Path, out_dir: Path) -> Path:
    return Path(out_dir) / output_name(Path(source))


def parse_file(
    source: Path, out_dir: Path, progress: ProgressCallback | None = None, thread: bool = True
) -> FileResult:
    """Write the books of one dump file to OUT_DIR/<name>.ndjson; skip when that file exists already.

    The rows go to a temporary name unique to this host and process, renamed when the whole input has been
    read: workers on several machines may share OUT_DIR, and a damaged input (DumpError) leaves nothing.
    """
    source = Path(source)
    target = output_path(source, out_dir)
    result = FileResult(source=str(source), output=str(target))
    if target.exists():
        result.skipped = True
        return result
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.part-{socket.gethostname()}-{os.getpid()}")
    started = time.perf_counter()
    try:
        # pages whose raw bytes cannot hold the infobox are counted but never parsed, not even as XML
        pages = PageStream(source, progress, thread=thread, marks=raw_marks)
        with open(partial, "w", encoding="utf-8") as out:
            for page in pages:
                if not may_be_book(page):
                    continue
                result.candidates += 1
                row = parse_book(page)
                if row is not None:
                    out.write(to_line(row))
                    result.books += 1
        result.pages = pages.seen
        os.replace(partial, target)
    except BaseException:  # DumpError, KeyboardInterrupt, a full disk: nothing stays behind
        partial.unlink(missing_ok=True)
        raise
    result.seconds = time.perf_counter() - started
    result.compressed_bytes = source.stat().st_size
    return result


__all__ = ["DumpError", "FileResult", "output_path", "parse_file"]
