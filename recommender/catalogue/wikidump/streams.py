"""The decompressed bytes of a dump file as chunks, each with how far into the file (compressed bytes) it ends.

bz2 is decoded by 7-Zip's decoder (`7zz`, Debian's `7zip`) in a child process when it is installed, else by libbz2
in this process (settings.WIKIDUMP_BZIP2: auto, 7zz or libbz2). Decompression is most of a parse, and 7-Zip's
decoder takes about a fifth less CPU than libbz2 here (2.97-3.10 s against 3.61-3.64 s for `bzip2 -dc` of a
21 MB partition, one thread each); as a child it also runs on another core when there is one, as the original's
`bzcat` did. A thread of ours feeds it the file, so the position read so far is known, and its errors are read
back with that position.

With libbz2, a bz2 file may be decompressed in a background thread, a few chunks ahead of the parser: libbz2
releases the GIL, so decompression runs on another core while expat and mwparserfromhell work, in this process, so
errors keep their byte position. The queue is bounded: memory stays flat however far ahead the thread could run.
"""

import bz2
import contextlib
import queue
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

Chunk = tuple[int, bytes]  # (compressed bytes read so far, decompressed data); data b"" at the end

RAW_BLOCK = 1 << 18  # compressed bytes handed to libbz2 at a time
AHEAD = 2  # chunks decompressed before the parser asks for them: enough to smooth the hand-over
_PUT_WAIT = 0.1  # seconds between checks whether the parser has gone away
DECODERS = ("auto", "7zz", "libbz2")
SEVEN_ZIP = "7zz"
# 7-Zip's one-line reports (exit code 2) that mean what libbz2's errors mean here
_SEVEN_ZIP_TRUNCATED = "Unexpected end of data"
_SEVEN_ZIP_TRAILING = "There are some data after the end of the payload data"  # ignored, as bz2.BZ2File does


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


def seven_zip(decoder: str | None = None) -> str | None:
    """The 7-Zip command that decodes bz2, or None for libbz2: `decoder` (auto, 7zz, libbz2), else the setting."""
    if decoder is None:
        from django.conf import settings  # read when a file is opened: the tests switch it
        from django.core.exceptions import ImproperlyConfigured

        try:
            decoder = getattr(settings, "WIKIDUMP_BZIP2", "auto")  # loads the settings in a fresh child process too
        except ImproperlyConfigured:  # outside Django: the default
            decoder = "auto"
    if decoder not in DECODERS:
        raise ValueError(f"the bz2 decoder must be one of {DECODERS}, not {decoder!r}")
    if decoder == "libbz2":
        return None
    found = shutil.which(SEVEN_ZIP)
    if found is None and decoder == SEVEN_ZIP:
        raise FileNotFoundError(f"{SEVEN_ZIP} is not installed (Debian: apt-get install 7zip)")
    return found


def read_chunks(path: Path, chunk_size: int = 1 << 20, decoder: str | None = None) -> Iterator[Chunk]:
    """Chunks read in the calling thread; ChunkError with the position when the file cannot be read to its end."""
    path = Path(path)
    command = seven_zip(decoder) if path.suffix == ".bz2" else None
    if command is not None:
        yield from _seven_zip_chunks(path, chunk_size, command)
        return
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


def _seven_zip_chunks(path: Path, chunk_size: int, command: str) -> Iterator[Chunk]:
    """The file decoded by 7-Zip in a child process, fed by a thread of ours; stopped when the caller stops."""
    size = path.stat().st_size
    if size == 0:  # 7-Zip calls it "not an archive"; libbz2 reads nothing, and the parser says there is no XML
        yield 0, b""
        return
    fed = [0]  # compressed bytes handed to the decoder: what the caller is told it has read
    with tempfile.TemporaryFile() as errors:
        child = subprocess.Popen(
            [command, "e", "-si", "-so", "-tbzip2", "-mmt=1", "-bd"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
        )

        def feed() -> None:
            try:
                with open(path, "rb") as raw:
                    while block := raw.read(RAW_BLOCK):
                        child.stdin.write(block)
                        fed[0] += len(block)
            except OSError:
                pass  # the decoder stopped reading (an error it reports, or the caller stopped)
            finally:
                with contextlib.suppress(OSError):
                    child.stdin.close()

        feeder = threading.Thread(target=feed, name=f"bunzip2 {path.name}", daemon=True)
        feeder.start()
        try:
            while data := child.stdout.read(chunk_size):
                yield fed[0], data
            child.wait()
            feeder.join()
            if child.returncode:
                errors.seek(0)
                report = errors.read().decode("utf-8", "replace")
                message = next(
                    (line[len("ERROR:") :].strip(" :~") for line in report.splitlines() if line.startswith("ERROR:")),
                    report.strip(),
                )
                if _SEVEN_ZIP_TRAILING not in message:
                    cause = EOFError if _SEVEN_ZIP_TRUNCATED in message else OSError
                    raise ChunkError(fed[0], cause(f"{message} ({SEVEN_ZIP})"))
            yield size, b""
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            feeder.join()
            child.stdout.close()


def iter_chunks(path: Path, chunk_size: int = 1 << 20, thread: bool = True) -> Iterator[Chunk]:
    """The file's chunks in order, the last one empty; bz2 is decompressed ahead in a thread unless `thread`
    is False (when every core already runs a parsing process, the hand-over would only cost) or 7-Zip decodes it
    (in its own process already)."""
    path = Path(path)
    if path.suffix != ".bz2" or not thread or seven_zip() is not None:
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
