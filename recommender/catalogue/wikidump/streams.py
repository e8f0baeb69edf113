"""The decompressed bytes of a dump file as chunks, each with how far into the file (compressed bytes) it ends.

A bz2 file is decompressed in a background thread, a few chunks ahead of the parser: libbz2 releases the
GIL, so decompression (the largest single cost) runs on another core while expat and mwparserfromhell work,
as `bzcat | parser` does, and in this process, so errors keep their byte position. The queue is bounded:
memory stays flat however far ahead the thread could run.
"""

import bz2
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

Chunk = tuple[int, bytes]  # (compressed bytes read so far, decompressed data); data b"" at the end

RAW_BLOCK = 1 << 18  # compressed bytes handed to libbz2 at a time
AHEAD = 2  # chunks decompressed before the parser asks for them: enough to smooth the hand-over
_PUT_WAIT = 0.1  # seconds between checks whether the parser has gone away


class ChunkError(Exception):
    """Reading or decompressing failed at `position` compressed bytes; the cause is chained."""

    def __init__(self, position: int, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.position = position
        self.cause = cause


class _CountingReader:
    """The raw file as libbz2 reads it, counting how far into it that is."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.position += len(data)
        return data

    def readable(self) -> bool:
        return True


def read_chunks(path: Path, chunk_size: int = 1 << 20) -> Iterator[Chunk]:
    """Chunks read in the calling thread; ChunkError with the position when the file cannot be read to its end."""
    with open(path, "rb") as raw_file:
        raw = _CountingReader(raw_file)
        pieces = _bunzip2(raw, chunk_size) if path.suffix == ".bz2" else iter(lambda: raw.read(chunk_size), b"")
        try:
            for data in pieces:
                yield raw.position, data
        except (EOFError, OSError) as exc:
            raise ChunkError(raw.position, exc) from exc
        yield raw.position, b""


def _bunzip2(raw: _CountingReader, chunk_size: int) -> Iterator[bytes]:
    """bz2.BZ2File's reading, less its cost: libbz2 is handed RAW_BLOCK bytes a call, not 8 KiB, so the
    thread takes the GIL a few times a megabyte. Concatenated (multistream) dumps read on; data after the
    last stream that is not bz2 is ignored; a stream cut short is EOFError, as with BZ2File."""
    decompressor = bz2.BZ2Decompressor()
    while True:
        if decompressor.eof:
            rest = decompressor.unused_data or raw.read(RAW_BLOCK)
            if not rest:
                return
            decompressor = bz2.BZ2Decompressor()
            try:
                data = decompressor.decompress(rest, chunk_size)
            except OSError:
                return  # trailing data, not a stream
        elif decompressor.needs_input:
            block = raw.read(RAW_BLOCK)
            if not block:
                if raw.position == 0:
                    return  # an empty file: no XML, which the parser reports
                raise EOFError("Compressed file ended before the end-of-stream marker was reached")
            data = decompressor.decompress(block, chunk_size)
        else:
            data = decompressor.decompress(b"", chunk_size)  # output held back by max_length
        if data:
            yield data


def iter_chunks(path: Path, chunk_size: int = 1 << 20, thread: bool = True) -> Iterator[Chunk]:
    """The file's chunks in order, the last one empty; bz2 is decompressed ahead in a thread unless `thread`
    is False (when every core already runs a parsing process, the hand-over would only cost)."""
    path = Path(path)
    if path.suffix != ".bz2" or not thread:
        yield from read_chunks(path, chunk_size)  # nothing to overlap: reading plain XML is cheap
        return
    ahead: queue.Queue[Chunk | BaseException] = queue.Queue(maxsize=AHEAD)
    stop = threading.Event()
    thread = threading.Thread(
        target=_produce, args=(path, chunk_size, ahead, stop), name=f"bunzip2 {path.name}", daemon=True
    )
    thread.start()
    try:
        while True:
            item = ahead.get()
            if isinstance(item, BaseException):
                raise item  # ChunkError, or what opening the file raised
            yield item
            if not item[1]:
                return
    finally:
        stop.set()  # the parser stopped early (an error, a closed generator): let the thread end
        thread.join()


def _produce(path: Path, chunk_size: int, ahead: queue.Queue, stop: threading.Event) -> None:
    def put(item: Chunk | BaseException) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=_PUT_WAIT)
                return True
            except queue.Full:
                continue
        return False

    try:
        for chunk in read_chunks(path, chunk_size):
            if not put(chunk):
                return
    except BaseException as exc:  # handed to the parser's thread, which raises it
        put(exc)
