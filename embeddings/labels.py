"""How book labels are compared: genres, authors and series, normalised the same way by training, evaluation,
the served ranking's groups and fold-in. Only the standard library: web processes import it.
"""

import re

# A genre field is free text ("Fantasy, horror", "Crime / Mystery novel"): one book may have several genres.
_GENRE_SEPARATORS = re.compile(r"[,;/]")
_SPACES = re.compile(r"\s+")


def normalise_genres(text: object) -> frozenset[str]:
    """Genre rule used by every metric: lower-case, split on ',' (and ';', '/' which the data uses the same way),
    strip spaces and dots from each part.

    Two books share a genre when their sets intersect ("Fantasy, horror" matches "Horror").
    """
    if not isinstance(text, str) or not text.strip():
        return frozenset()
    parts = (_SPACES.sub(" ", part).strip(" .") for part in _GENRE_SEPARATORS.split(text.lower()))
    return frozenset(part for part in parts if part)


def normalise_author(text: object) -> str:
    """Lower-case, single spaces; '' when unknown. Co-authored books keep the whole string."""
    if not isinstance(text, str):
        return ""
    return _SPACES.sub(" ", text.lower()).strip()


def normalise_series(text: object) -> str:
    """Book.series is stored normalised (catalogue/series.py); this only guards case and spaces. '' when none."""
    return text.strip().lower() if isinstance(text, str) else ""
