"""Stream the pages of a MediaWiki XML export (bz2 or plain) in constant memory.

expat is driven directly, not through ElementTree: no element objects are built, and text is collected only
inside the four elements a page needs (the character-data handler is switched on and off), so the parser's
own work stays a small fraction of decompressing the file.
"""

import xml.parsers.expat as expat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from recommender.catalogue.wikidump.streams import Chunk, ChunkError, iter_chunks

ProgressCallback = Callable[[int], None]  # compressed bytes read so far

# <timestamp> and <text> sit in <revision>; a pages-articles dump has one revision a page.
_FIELDS = frozenset(("title", "ns", "timestamp", "text"))
_TEXT_BUFFER = 1 << 20  # expat joins a page's text into pieces this large before calling us


class DumpError(Exception):
    """A dump file that cannot be read to its end: truncated, corrupt or not MediaWiki XML."""


@dataclass(frozen=True, slots=True)
class Page:
    title: str
    namespace: int
    is_redirect: bool
    timestamp: str
    text: str


def iter_pages(
    path: Path, progress: ProgressCallback | None = None, chunk_size: int = 1 << 20, thread: bool = True
) -> Iterator[Page]:
    """Every page of the dump, in order; DumpError (with the byte position) when the file is damaged.

    Pages are handed on as soon as the chunk that ends them is parsed, so memory stays flat however large
    the file. `progress` is called with the compressed bytes read after each chunk, the file's size last.
    `thread`: decompress bz2 in a thread beside the parsing (streams.iter_chunks).
    """
    path = Path(path)
    size = path.stat().st_size
    position = 0
    try:
        for position, pages in _pages(iter_chunks(path, chunk_size, thread)):
            yield from pages
            if progress is not None:
                progress(position)
    except ChunkError as exc:
        if isinstance(exc.cause, EOFError):
            raise DumpError(
                f"{path}: the compressed data ends early at byte {exc.position:,} of {size:,} "
                "(the file is truncated; download it again)"
            ) from None
        raise DumpError(f"{path}: cannot decompress near byte {exc.position:,} of {size:,}: {exc}") from None
    except expat.ExpatError as exc:
        raise DumpError(
            f"{path}: not well-formed XML at line {exc.lineno}, column {exc.offset} of the decompressed text "
            f"(near compressed byte {position:,}): {expat.ErrorString(exc.code)}"
        ) from None
    except _NotAnExport as exc:
        raise DumpError(f"{path}: {exc} (near compressed byte {position:,})") from None


class _NotAnExport(ValueError):
    pass


class _PageParser:
    """expat's handlers: collect the fields of each page, and the finished pages of the chunk being parsed."""

    def __init__(self) -> None:
        self.parser = parser = expat.ParserCreate()
        parser.buffer_text = True  # a page's text in one call, not one per line or entity
        parser.buffer_size = _TEXT_BUFFER
        parser.StartElementHandler = self._root
        parser.EndElementHandler = self._end
        self.pages: list[Page] = []
        self.fields: dict[str, str] = {}
        self.text: list[str] = []
        self.redirect = False
        self.seen_root = False

    def _root(self, name: str, attributes: dict[str, str]) -> None:
        # no namespace processing: MediaWiki exports declare theirs as the default, so names come unprefixed
        if name != "mediawiki":
            raise _NotAnExport(f"the root element is <{name}>, not a MediaWiki export's <mediawiki>")
        self.seen_root = True
        self.parser.StartElementHandler = self._start

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        if name in _FIELDS:
            self.text.clear()
            self.parser.CharacterDataHandler = self.text.append
        elif name == "redirect":
            self.redirect = True

    def _end(self, name: str) -> None:
        if name in _FIELDS:
            self.parser.CharacterDataHandler = None  # whitespace between elements is never turned into str
            self.fields[name] = "".join(self.text)
        elif name == "page":
            fields = self.fields
            namespace = fields.get("ns") or "0"
            if not namespace.lstrip("-").isdigit():
                raise _NotAnExport(f"page {fields.get('title')!r} has the namespace {namespace!r}, not a number")
            self.pages.append(
                Page(
                    fields.get("title", ""),
                    int(namespace),
                    self.redirect,
                    fields.get("timestamp", ""),
                    fields.get("text", ""),
                )
            )
            self.fields = {}
            self.redirect = False


def _pages(chunks: Iterator[Chunk]) -> Iterator[tuple[int, list[Page]]]:
    """(compressed position, the pages finished in that chunk) for every chunk."""
    handlers = _PageParser()
    for position, data in chunks:
        handlers.parser.Parse(data, not data)  # the last chunk is empty: the document must be complete
        if not handlers.seen_root and not data:
            raise _NotAnExport("the file holds no XML")
        pages, handlers.pages = handlers.pages, []
        yield position, pages
