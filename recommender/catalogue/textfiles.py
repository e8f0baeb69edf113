"""Import files read line by line, plain or compressed (.gz, .bz2), with errors that name the file and the line.

A file that cannot be read as a whole is not a bad line to skip, since nothing after the fault can be trusted: bytes
that are not UTF-8, a compressed stream that is corrupt or ends before its end-of-stream marker, a last line cut in
half. `UnreadableFile` stops the import; the importers read every record before their first write, so the catalogue
is left as it was.
"""

import bz2
import csv
import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

COMPRESSED = {".gz": ("gzip", gzip.open), ".bz2": ("bz2", bz2.open)}
BOM = "\ufeff"


class UnreadableFile(ValueError):
    """The file as a whole cannot be imported; the message is `path:line: reason`."""

    def __init__(self, path: Path, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}; nothing was imported")
        self.path = path
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class Line:
    number: int
    text: str
    complete: bool  # ends with a line break: a last line without one may have been cut short


def open_binary(path: Path) -> BinaryIO:
    _, opener = COMPRESSED.get(path.suffix.lower(), ("", open))
    return opener(path, "rb")


def _decode(path: Path, number: int, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        column = len(raw[: exc.start].decode("utf-8", "replace")) + 1
        raise UnreadableFile(
            path, number, f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {column}): convert the file to UTF-8"
        ) from None
    return text[1:] if number == 1 and text.startswith(BOM) else text


def read_lines(path: Path) -> Iterator[Line]:
    """Every line of the file, decoded; faults of the file itself raise UnreadableFile."""
    kind = COMPRESSED.get(path.suffix.lower(), ("",))[0]
    number = 0
    try:
        with open_binary(path) as handle:
            for number, raw in enumerate(handle, start=1):
                yield Line(number, _decode(path, number, raw), raw.endswith(b"\n"))
    except EOFError:
        raise UnreadableFile(
            path, number + 1, f"the {kind} file is cut short: it ends before its end-of-stream marker"
        ) from None
    except (OSError, zlib.error) as exc:  # not gzip/bz2 data, a corrupt block, a failing disk
        what = f"the {kind} file is corrupt" if kind else "the file cannot be read"
        raise UnreadableFile(path, number + 1, f"{what} ({exc})") from None


class LineSource:
    """The lines' texts for csv.reader, remembering the last line read (whether the file may end cut short)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.last: Line | None = None

    def __iter__(self) -> Iterator[str]:
        for line in read_lines(self.path):
            self.last = line
            yield line.text

    @property
    def ended_mid_line(self) -> bool:
        return self.last is not None and not self.last.complete


def csv_rows(path: Path, delimiter: str = ",") -> Iterator[tuple[int, list[str], bool]]:
    """(physical line a row ends on, its values, whether it is a last line without a line break)."""
    source = LineSource(path)
    reader = csv.reader(source, delimiter=delimiter)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a value longer than csv's field limit
            raise UnreadableFile(path, reader.line_num, f"not a readable {describe(delimiter)} file ({exc})") from None
        if any("\x00" in value for value in row):  # text never holds one; the database refuses it
            raise UnreadableFile(path, reader.line_num, "holds a NUL byte: a binary or corrupt file")
        yield reader.line_num, row, source.ended_mid_line


def describe(delimiter: str) -> str:
    return "tab-separated" if delimiter == "\t" else "CSV"


def cut_short(path: Path, line: int) -> UnreadableFile:
    return UnreadableFile(path, line, "the file ends in the middle of this line (cut short?)")
