"""Stream the pages of a MediaWiki XML export (bz2 or plain) in constant memory."""

import bz2
import os
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

ProgressCallback = Callable[[int], None]  # compressed bytes read so far


class DumpError(Exception):
    """A dump file that cannot be read to its end: truncated, corrupt or not MediaWiki XML."""


@dataclass(frozen=True, slots=True)
class Page:
    title: str
    namespace: int
    is_redirect: bool
    timestamp: str
    text: str


def _local(tag: str) -> str:
    # "{http://www.mediawiki.org/xml/export-0.10/}page" -> "page", whatever the export version.
    return tag.rpartition("}")[2]


class _CountingReader:
    """The raw file as bz2 and expat read it, reporting how far into it they are."""

    def __init__(self, raw: BinaryIO, progress: ProgressCallback | None) -> None:
        self.raw = raw
        self.position = 0
        self.progress = progress

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.position += len(data)
        if self.progress is not None:
            self.progress(self.position)
        return data

    def readable(self) -> bool:
        return True


def _open(raw: _CountingReader, path: Path) -> BinaryIO:
    if path.suffix == ".bz2":
        return bz2.BZ2File(raw)  # type: ignore[arg-type]  # concatenated (multistream) dumps read too
    return raw  # type: ignore[return-value]


def iter_pages(path: Path, progress: ProgressCallback | None = None, chunk_size: int = 1 << 20) -> Iterator[Page]:
    """Every page of the dump, in order; DumpError (with the byte position) when the file is damaged.

    Elements are cleared as soon as their page is read, so memory stays flat however large the file.
    """
    path = Path(path)
    size = os.path.getsize(path)
    with open(path, "rb") as raw_file:
        raw = _CountingReader(raw_file, progress)
        stream = _open(raw, path)
        try:
            yield from _pages(stream, chunk_size)
        except EOFError:
            raise DumpError(
                f"{path}: the compressed data ends early at byte {raw.position:,} of {size:,} "
                "(the file is truncated; download it again)"
            ) from None
        except OSError as exc:
            raise DumpError(f"{path}: cannot decompress near byte {raw.position:,} of {size:,}: {exc}") from None
        except ET.ParseError as exc:
            line, column = exc.position
            raise DumpError(
                f"{path}: not well-formed XML at line {line}, column {column} of the decompressed text "
                f"(near compressed byte {raw.position:,}): {exc}"
            ) from None
        except _NotAnExport as exc:
            raise DumpError(f"{path}: {exc} (near compressed byte {raw.position:,})") from None


class _NotAnExport(ValueError):
    pass


def _pages(stream: BinaryIO, chunk_size: int) -> Iterator[Page]:
    parser = ET.XMLPullParser(events=("start", "end"))
    root: ET.Element | None = None
    fields: dict[str, str] = {}
    redirect = False
    while chunk := stream.read(chunk_size):
        parser.feed(chunk)
        for event, element in parser.read_events():
            name = _local(element.tag)
            if event == "start":
                if root is None:
                    root = element
                    if name != "mediawiki":
                        raise _NotAnExport(f"the root element is <{name}>, not a MediaWiki export's <mediawiki>")
                continue
            if name in ("title", "ns", "timestamp", "text"):
                # <timestamp> and <text> sit in <revision>; a pages-articles dump has one revision a page.
                fields[name] = element.text or ""
            elif name == "redirect":
                redirect = True
            elif name == "page":
                namespace = fields.get("ns") or "0"
                if not namespace.lstrip("-").isdigit():
                    raise _NotAnExport(f"page {fields.get('title')!r} has the namespace {namespace!r}, not a number")
                yield Page(
                    title=fields.get("title", ""),
                    namespace=int(namespace),
                    is_redirect=redirect,
                    timestamp=fields.get("timestamp", ""),
                    text=fields.get("text", ""),
                )
                fields = {}
                redirect = False
                root.clear()  # drop the finished page (and siteinfo): constant memory
    parser.close()
    if root is None:
        raise _NotAnExport("the file holds no XML")
