"""Cover images: the Goodreads cover_url, or the file a Wikipedia infobox names, served by Special:FilePath.

Wikipedia infobox `image` values are messy: 'File:X.jpg', 'Image:X.jpg', '[[File:X.jpg|200px]]', 'X.jpg <!--prefer
1st edition-->' or only a comment. cover_url() returns '' when nothing usable is named; pages then show a placeholder.

en.wikipedia.org's Special:FilePath answers for its own (mostly non-free) cover uploads and for Commons files alike,
whereas commons.wikimedia.org's knows only Commons files, which few book covers are.
"""

import re
from urllib.parse import quote

FILE_PATH_URL = "https://en.wikipedia.org/wiki/Special:FilePath/"
COVER_WIDTH = 300

_COMMENT = re.compile(r"<\s*!--.*?(?:--\s*>|$)", re.S)
_PREFIX = re.compile(r"^\s*(?:file|image)\s*:\s*", re.I)
_IMAGE_NAME = re.compile(r"[^<>\[\]{}|#]+\.(?:jpe?g|png|gif|svg|tiff?|webp)", re.I)


def image_file_name(value: object) -> str:
    """The file name an infobox `image` value names, without 'File:' and comments; '' when there is none."""
    if not isinstance(value, str):
        return ""
    text = _COMMENT.sub(" ", value)
    if "[[" in text:  # [[File:Name.jpg|200px|caption]]
        text = text.split("[[", 1)[1].split("]]", 1)[0]
    text = text.split("|", 1)[0]
    text = _PREFIX.sub("", " ".join(text.split()))
    match = _IMAGE_NAME.fullmatch(text.strip())
    return match.group(0).strip() if match else ""


def file_path_url(file_name: str, width: int = COVER_WIDTH) -> str:
    name = file_name.strip().replace(" ", "_")
    return f"{FILE_PATH_URL}{quote(name, safe='_-.,()!~*')}?width={width}"


def cover_url(cover: str, infobox: dict | None, width: int = COVER_WIDTH) -> str:
    """A book's cover image URL: its own cover_url first, else its infobox image; '' when neither names one."""
    if cover and "nophoto" not in cover:  # Goodreads uses .../nophoto/book/... for "no cover"
        return cover
    name = image_file_name((infobox or {}).get("image"))
    return file_path_url(name, width) if name else ""


def initials(title: str) -> str:
    """One or two letters for the placeholder cover: 'The Hobbit' -> 'TH'."""
    words = [w for w in re.findall(r"\w+", title) if w]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def placeholder_hue(book_id: int) -> int:
    """A colour for a placeholder cover, fixed per book, so that rows of placeholders are told apart."""
    return (book_id * 137) % 360
