"""Stream the pages of a MediaWiki XML export (bz2 or plain) in constant memory.

expat is driven directly, not through ElementTree: no element objects are built, and text is collected only
inside the four elements a page needs (the character-data handler is switched on and off).

With `marks` (PageStream), most pages never reach expat at all: the decompressed bytes are split at `<page>` and
`</page>`, and a page is parsed only when its raw bytes hold one of the positions `marks` finds (books.py's
test for the infobox's name, wide enough to catch every spelling); the others are counted and dropped. expat
still reads everything else (the header, the bytes between pages, the end), so a file that is not a MediaWiki
export, or ends early, is still an error.
"""

import re
import xml.parsers.expat as expat
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from recommender.catalogue.wikidump.streams import ChunkError, iter_chunks

ProgressCallback = Callable[[int], None]  # compressed bytes read so far
Marks = Callable[[bytes], list[int]]  # positions in decompressed bytes that make the page holding them be parsed

CHUNK = 1 << 20  # decompressed bytes handled at a time
MAX_PAGE = 1 << 24  # a page held longer than this is parsed as it comes: the memory bound (enwiki's are < 3 MB)

# <timestamp> and <text> sit in <revision>; a pages-articles dump has one revision a page.
_FIELDS = frozenset(("title", "ns", "timestamp", "text"))
_TEXT_BUFFER = 1 << 20  # expat joins a page's text into pieces this large before calling us
_START, _END = b"<page>", b"</page>"
# How a comment, CDATA or processing instruction begins: MediaWiki writes none (its text is escaped), but one could
# hide a `</page>` that is not a tag, so a page holding one is parsed. (A pattern: twice as fast as `b"<!" in`.)
_MARKUP = re.compile(rb"<[!?]")


class DumpError(Exception):
    """A dump file that cannot be read to its end: truncated, corrupt or not MediaWiki XML."""


@dataclass(frozen=True, slots=True)
class Page:
    title: str
    namespace: int
    is_redirect: bool
    timestamp: str
    text: str


class PageStream:
    """The pages of a dump, in order, when iterated (once); DumpError (with the position) when the file is damaged.

    Pages are handed on as soon as the chunk that ends them is read, so memory stays flat however large the file.
    `progress` is called with the compressed bytes read after each chunk, the file's size last. `thread`:
    decompress bz2 in a thread beside the parsing (streams.iter_chunks). `marks`: skip, unparsed, every page whose
    raw bytes hold none of the positions it returns for a chunk; `seen` counts all pages, skipped or not.
    """

    def __init__(
        self,
        path: Path,
        progress: ProgressCallback | None = None,
        chunk_size: int = CHUNK,
        thread: bool = False,
        marks: Marks | None = None,
        max_page: int = MAX_PAGE,
    ) -> None:
        self.path = Path(path)
        self.progress = progress
        self.chunk_size = chunk_size
        self.thread = thread
        self.marks = marks
        self.max_page = max_page
        self.seen = 0

    def __iter__(self) -> Iterator[Page]:
        path = self.path
        size = path.stat().st_size
        handlers = _PageParser()
        scanner = _Scanner(handlers, self.marks, self.max_page)
        position = 0
        try:
            for position, data in iter_chunks(path, self.chunk_size, self.thread):
                skipped = scanner.push(data)
                if not handlers.seen_root and not data:
                    raise _BadDocument("the file holds no XML")
                pages, handlers.pages = handlers.pages, []
                self.seen += skipped + len(pages)
                yield from pages
                if self.progress is not None:
                    self.progress(position)
        except ChunkError as exc:
            if isinstance(exc.cause, EOFError):
                raise DumpError(
                    f"{path}: the compressed data ends early at byte {exc.position:,} of {size:,} "
                    "(the file is truncated; download it again)"
                ) from None
            raise DumpError(f"{path}: cannot decompress near byte {exc.position:,} of {size:,}: {exc}") from None
        except _BadDocument as exc:
            raise DumpError(f"{path}: {exc} (near compressed byte {position:,})") from None


def iter_pages(
    path: Path, progress: ProgressCallback | None = None, chunk_size: int = CHUNK, thread: bool = True
) -> Iterator[Page]:
    """Every page of the dump, in order, all parsed (PageStream without `marks`)."""
    return iter(PageStream(path, progress, chunk_size, thread))


class _BadDocument(ValueError):
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
        self.open_pages = 0
        self.page_end = -1

    def _root(self, name: str, attributes: dict[str, str]) -> None:
        # no namespace processing: MediaWiki exports declare theirs as the default, so names come unprefixed
        if name != "mediawiki":
            raise _BadDocument(f"the root element is <{name}>, not a MediaWiki export's <mediawiki>")
        self.seen_root = True
        self.parser.StartElementHandler = self._start

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        if name in _FIELDS:
            self.text.clear()
            self.parser.CharacterDataHandler = self.text.append
        elif name == "redirect":
            self.redirect = True
        elif name == "page":
            self.open_pages += 1

    def _end(self, name: str) -> None:
        if name in _FIELDS:
            self.parser.CharacterDataHandler = None  # whitespace between elements is never turned into str
            self.fields[name] = "".join(self.text)
        elif name == "page":
            self.open_pages -= 1
            self.page_end = self.parser.CurrentByteIndex  # where its </page> begins: the raw scan checks its split
            fields = self.fields
            namespace = fields.get("ns") or "0"
            if not namespace.lstrip("-").isdigit():
                raise _BadDocument(f"page {fields.get('title')!r} has the namespace {namespace!r}, not a number")
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


class _Scanner:
    """Hands expat the decompressed bytes, less the pages that need no parsing (with `marks`).

    Outside a page it looks for `<page>`, feeding expat what comes before; a page is held until its first
    `</page>`, then fed or skipped whole; a page longer than `max_page`, or never ended, is fed as it comes. A tag
    split between chunks is found: the bytes that could begin one are carried to the next chunk.

    A page is skipped only when it holds none of the marks and its `<page>` and `</page>` are surely its tags:
    expat itself closed the page before (`clean`), only text came between, and the page holds no comment, CDATA,
    processing instruction or other `<page`, which could hide a tag. Else it is fed, and fed on up to the
    `</page>` expat really ends it at. MediaWiki writes none of these, so in its dumps every page without marks
    but the first after the header is skipped.
    """

    def __init__(self, handlers: _PageParser, marks: Marks | None, max_page: int) -> None:
        self.handlers = handlers
        self.parser = handlers.parser
        self.marks = marks
        self.max_page = max_page
        self.rest = b""  # bytes carried to the next chunk: the page in hand, or a tail that may begin a tag
        self.inside = False  # rest begins with the <page> of a page held whole
        self.streaming = False  # a page is being fed as it comes, up to the </page> that ends it
        self.clean = False  # expat's last event was a page's end, and only text came after it
        self.searched = 0  # bytes of the page in hand already searched for </page>
        self.offset = 0  # decompressed position of rest's first byte
        self.fed = 0  # bytes handed to expat
        self.anchor = (0, 0)  # (fed, decompressed position) after the last skipped page: places expat's errors
        # entities a DTD defines could spell the template's name anywhere: no skipping then (MediaWiki has no DTD)
        self.parser.StartDoctypeDeclHandler = self._no_skipping

    def _no_skipping(self, *declaration: object) -> None:
        self.marks = None

    def push(self, chunk: bytes) -> int:
        """Feed one chunk (b"" at the end of the file); the number of pages skipped in it."""
        final = not chunk
        data = self.rest + chunk if self.rest else chunk
        if self.marks is None:  # everything is parsed: no splitting (what is carried was not fed yet)
            self._feed(data, final)
            self.offset += len(data)
            self.rest, self.inside, self.streaming = b"", False, False
            return 0
        marks: list[int] | None = None
        skipped = at = 0
        while True:
            if self.inside:
                end = data.find(_END, at + self.searched)
                if end < 0:
                    if final or len(data) - at > self.max_page:  # too long to hold, or never ended: fed as it comes
                        self.inside, self.streaming, self.searched = False, True, 0
                        continue
                    self.searched = max(0, len(data) - at - len(_END) + 1)
                    break
                end += len(_END)
                self.inside, self.searched = False, 0
                if marks is None:
                    marks = self._marks(data)
                i = bisect_left(marks, at)
                if (
                    self.clean
                    and self.marks is not None
                    and (i == len(marks) or marks[i] >= end)
                    and data.find(b"<page", at + 1, end) < 0
                ):
                    skipped += 1
                    self.anchor = (self.fed, self.offset + end)
                else:
                    self._feed(data[at:end])
                    self.streaming = not self._closed()  # that </page> was not the page's end: feed on to it
                at = end
            elif self.streaming:
                end = data.find(_END, at)
                if end < 0:
                    cut = len(data) if final else max(at, len(data) - len(_END) + 1)
                    self._feed(data[at:cut])
                    at = cut
                    break
                end += len(_END)
                self._feed(data[at:end])
                self.streaming = not self._closed()
                at = end
            else:
                start = data.find(_START, at)
                cut = start if start >= 0 else len(data) if final else max(at, len(data) - len(_START) + 1)
                between = data[at:cut]
                if not self.clean:
                    self._feed(between)
                elif between.isspace():  # the newline and indent between two pages: nothing for expat
                    self.anchor = (self.fed, self.offset + cut)
                else:
                    self.clean = b"<" not in between  # markup between pages (a comment): the next page is fed
                    self._feed(between)
                at = cut
                if start < 0:
                    break
                self.inside = True
        self.offset += at
        self.rest = data[at:]
        if final:
            self._feed(b"", True)
        return skipped

    def _closed(self) -> bool:
        """Whether expat's last event was the end of a page, at the end of what it was fed: then all is clean."""
        self.clean = self.handlers.open_pages == 0 and self.handlers.page_end == self.fed - len(_END)
        return self.clean

    def _marks(self, data: bytes) -> list[int]:
        """Where in this chunk a page must be parsed: the infobox's name may be there, or markup hiding a tag."""
        marks = self.marks(data) if self.marks is not None else []
        marks += [m.start() for m in _MARKUP.finditer(data)]
        marks.sort()
        return marks

    def _feed(self, data: bytes, final: bool = False) -> None:
        if not data and not final:
            return
        try:
            self.parser.Parse(data, final)
        except expat.ExpatError as exc:
            fed, offset = self.anchor
            offset += max(0, self.parser.ErrorByteIndex - fed)
            raise _BadDocument(
                f"not well-formed XML at byte {offset:,} of the decompressed text: {expat.ErrorString(exc.code)}"
            ) from None
        self.fed += len(data)
