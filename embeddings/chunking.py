"""Fixed-size slices of a sequence, for every loop that works in batches (evaluation's query rows, the importer's
database writes): one helper, so a batch boundary is computed the same way everywhere."""

from collections.abc import Iterator, Sequence
from typing import TypeVar

Items = TypeVar("Items", bound=Sequence)


def chunks(items: Items, size: int) -> Iterator[Items]:
    """items[0:size], items[size:2 * size], ...; works for lists and numpy arrays alike (slices, not copies)."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    for start in range(0, len(items), size):
        yield items[start : start + size]
