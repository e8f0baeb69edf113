"""Which series a book belongs to, derived from the data each source gives.

- Goodreads titles name it: "The Hunger Games (The Hunger Games, #1)", "Mockingjay (The Hunger Games, #3)".
- Wikipedia infoboxes have `series` ("The Extraordinary Voyages #21", "[[Albert Campion]]") and chain books
  with `preceded_by` / `followed_by` (titles of other books, often without a series field).

A book's series is its named series, else the one of the books it is chained to; books chained together without
any name form a series of their own, named after their alphabetically first title. Names are compared in a
normal form (lower-case, no volume number, no leading "the" or trailing "series"), so "The Hunger Games" and
"Hunger Games #2" match.
Only what `assign_series` returns is stored (Book.series); evaluation counts a series once it has two books.
"""

import re
from collections import Counter
from collections.abc import Iterable

from django.db import transaction

from recommender.catalogue.text import search_key, wiki_to_text

# "(Series Name, #1)", "(Series #2.5)", "(Series, #1-3)": the last such group of a Goodreads title.
_TITLE_SERIES = re.compile(r"\(([^()]*?),?\s*#\s*\d[^()]*\)")
_NUMBERING = re.compile(r"(?:[,:;(]|\s)\s*(?:#|no\.?|number|book|vol\.?|volume|part)\s*[\divxlc]+\b.*$", re.IGNORECASE)
_TRAILING_NUMBER = re.compile(r"\s+#?\d+(?:\.\d+)?\s*$")
_DISAMBIGUATION = re.compile(r"\s*\([^()]*\)\s*$")  # "The Change (novel)" is linked to as "The Change"


def series_key(name: object) -> str:
    """Normal form of a series name: '' when there is none."""
    text = wiki_to_text(name) if isinstance(name, str) else ""
    text = text.split(",")[0] if "#" in text or "," in text else text  # "Discworld, #3" or "A, B" lists
    text = _NUMBERING.sub("", text)
    text = _TRAILING_NUMBER.sub("", text)
    key = search_key(text).strip(" .:;-").removesuffix(" series").strip()
    return key[4:] if key.startswith("the ") else key


def series_from_title(title: str) -> str:
    """The series a Goodreads-style title names, normalised; '' when it names none."""
    found = _TITLE_SERIES.findall(title or "")
    return series_key(found[-1]) if found else ""


def named_series(title: str, infobox: object) -> str:
    """The series a book names itself (its title, else its infobox's `series`), normalised; '' when none.

    What assign_series gives a book before chains are followed: the series of a book that refresh_series has not
    seen yet (one added in the admin), so that fold-in can group it as training will."""
    name = series_from_title(title)
    if not name and isinstance(infobox, dict):
        name = series_key(infobox.get("series"))
    return name


def _title_keys(title: str) -> set[str]:
    keys = {search_key(title).strip()}
    bare = _DISAMBIGUATION.sub("", title)
    if bare and bare != title:
        keys.add(search_key(bare).strip())
    return keys - {""}


def _neighbour_titles(infobox: object) -> list[str]:
    if not isinstance(infobox, dict):
        return []
    names = []
    for field in ("preceded_by", "followed_by"):
        text = wiki_to_text(infobox.get(field))
        if text:
            names.append(text)
    return names


def assign_series(books: Iterable[tuple[int, str, object]]) -> dict[int, str]:
    """{book id: series key or ''} for (id, title, infobox) triples of one catalogue."""
    books = list(books)
    parent: dict[int, int] = {book_id: book_id for book_id, _, _ in books}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    by_title: dict[str, int] = {}
    for book_id, title, _ in sorted(books, key=lambda b: b[0]):
        for key in _title_keys(title):
            by_title.setdefault(key, book_id)
    named: dict[int, str] = {}
    for book_id, title, infobox in books:
        name = named_series(title, infobox)
        if name:
            named[book_id] = name
        for neighbour in _neighbour_titles(infobox):
            other = next((by_title[k] for k in _title_keys(neighbour) if k in by_title), None)
            if other is not None and other != book_id:
                parent[find(book_id)] = find(other)

    members: dict[int, list[int]] = {}
    for book_id in parent:
        members.setdefault(find(book_id), []).append(book_id)
    titles = {book_id: title for book_id, title, _ in books}
    result: dict[int, str] = {}
    for group in members.values():
        names = Counter(named[b] for b in group if b in named)
        if names:
            shared = names.most_common(1)[0][0]
        elif len(group) > 1:
            shared = search_key(min((titles[b] for b in group), key=search_key)).strip()
        else:
            shared = ""
        for book_id in group:
            result[book_id] = named.get(book_id, shared)
    return result


def refresh_series() -> int:
    """Recompute Book.series for the whole catalogue (chains cross import batches); returns how many changed."""
    from recommender.catalogue.models import Book

    rows = list(Book.objects.values_list("id", "title", "infobox", "series"))
    wanted = assign_series((book_id, title, infobox) for book_id, title, infobox, _ in rows)
    changed = [Book(id=book_id, series=wanted[book_id][:500]) for book_id, _, _, old in rows if wanted[book_id] != old]
    with transaction.atomic():
        Book.objects.bulk_update(changed, ["series"], batch_size=2000)
    return len(changed)
