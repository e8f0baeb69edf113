"""Text helpers shared by the importers and search: wiki markup to plain text, search keys."""

import re
import unicodedata

_COMMENT = re.compile(r"<\s*!--.*?--\s*>", re.S)
_REF = re.compile(r"<ref[^>/]*/>|<ref[^>]*>.*?</ref>", re.S | re.I)
_BR = re.compile(r"<br\s*/?>", re.I)
_TAG = re.compile(r"<[^>]+>")
_LINK = re.compile(r"\[\[(?:[^\]|]*\|)?([^\]]*)\]\]")
_EXTERNAL = re.compile(r"\[https?://\S+\s+([^\]]*)\]")
_TEMPLATE = re.compile(r"\{\{([^{}]*)\}\}")
_QUOTES = re.compile(r"'{2,}")
_LIST_BULLET = re.compile(r"(^|\n)\s*[*#]\s*")
_SPACES = re.compile(r"[ \t]+")
_MARKUP_CHARS = frozenset("<[{'*#\n")


def _template_text(match: re.Match) -> str:
    # {{plainlist|* A * B}} or {{ubl|A|B}}: keep the arguments, drop the template name.
    parts = match.group(1).split("|")
    args = [p.split("=", 1)[-1] for p in parts[1:]]
    return ", ".join(a.strip() for a in args if a.strip())


def wiki_to_text(value: object) -> str:
    """Plain text of an infobox value written in wiki markup ('' -> '', [[A|b]] -> 'b')."""
    if value is None:
        return ""
    text = str(value)
    if not _MARKUP_CHARS.intersection(text):
        return " ".join(text.split()).strip(" ,;")  # plain text: the regexes below would change nothing
    text = _COMMENT.sub("", text)
    text = _REF.sub("", text)
    text = _BR.sub(", ", text)
    for _ in range(3):  # nested templates unwrap from the inside out
        text, count = _TEMPLATE.subn(_template_text, text)
        if not count:
            break
    text = _LINK.sub(r"\1", text)
    text = _EXTERNAL.sub(r"\1", text)
    text = _TAG.sub("", text)
    text = _QUOTES.sub("", text)
    text = _LIST_BULLET.sub(r"\1, ", text)
    text = text.replace("\n", " ")
    text = _SPACES.sub(" ", text)
    return text.strip(" ,;")


def search_key(*parts: str) -> str:
    """Lower-case, accent-free form of text, so that 'Bronte' finds 'Brontë'."""
    text = " ".join(p for p in parts if p)
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()
