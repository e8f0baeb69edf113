"""Which pages are books, and the ndjson row of each: `[title, infobox, wikilinks, external links, timestamp,
text length]`, the format of the original project's `found_books_filtered.ndjson` that `import_books` reads.

Like the original: a page is a book when it holds an `Infobox book` template (nested in another template
too; the first one counts); wikilinks are every link's target title in page order, repeats, section
anchors (`Gothic fiction#First parodies`), `File:`, `Category:` and interwiki (`b:...`) targets included,
as the original kept them (`import_books` lower-cases them and counts each once a book); external links
are their URLs; the text length is that of the page's plain text (mwparserfromhell's `strip_code`).

How: mwparserfromhell's C tokenizer, then not its node tree but one pass over the token list (tokenwalk.py)
that gives what the tree would, to the byte: the first infobox and its parameters, every link and URL in the
tree's order, the length of `strip_code()`. Building and walking the tree (`parse_book_tree`) took four to five
times as long; it stays as the reference the tests compare the walk with, and parses any page whose tokens the
walk does not mirror (none of the benchmark's dump, nor of the tests' random markup, so far).

Where this differs from the original, on purpose:
- Only articles (namespace 0) and no redirects; the original kept any page with the template.
- The template name matches with MediaWiki's equivalences (case, `_` for space, repeated spaces, a
  `Template:` prefix): `Infobox_book`, `infobox Book`. The original compared `name.lower()` exactly.
- Infobox values are raw wikitext (`[[Jane Austen]]`, `{{Plainlist|...}}`) less top-level HTML comments;
  the original kept `strip_code()` of each, which deletes templates such as `{{Plainlist}}` or
  `{{Start date|1995}}` outright. The catalogue turns values into text itself (`text.wiki_to_text`).
- Entities are decoded once by the XML parser. The original's SAX handler joined text pieces with a
  space, which is why its file has `Harper  &  Brothers` and comments read as `< !-- ... -- >` params.
"""

import json
import re

import mwparserfromhell
from mwparserfromhell.nodes import Comment, ExternalLink, Node, Template, Wikilink
from mwparserfromhell.wikicode import Wikicode

from recommender.catalogue.wikidump.reader import Page
from recommender.catalogue.wikidump.tokenwalk import TokenWalk, Unsupported, name_key, tokenize

TEMPLATE_NAME = "infobox book"
ARTICLE_NAMESPACE = 0

# The cheap test run on every page: only pages it matches are parsed with mwparserfromhell. Lower-casing
# and a substring search first is ten times faster than a case-insensitive regex over every page (and than
# checking for "nfobox"/"NFOBOX" first, as 40% of articles hold some infobox): about 1% of the parse.
MAY_HOLD_INFOBOX = re.compile(r"infobox[\s_]+book")

# The raw scan's test (reader.PageStream) runs before that one, on decompressed XML not yet parsed: a page is
# parsed only when it holds one of the positions raw_marks finds. It must catch every page MAY_HOLD_INFOBOX would
# once the page is decoded, so it errs wide: any non-ASCII bytes between the words (`\s` matches non-ASCII
# spaces there), "boo" for "book" (the Kelvin sign lower-cases to "k"), and a character reference that may stand
# for a letter of the name or a space (`&#32;`) wherever it is. MediaWiki writes no character references.
_RAW_NAME = re.compile(rb"infobox[\s_\x1c-\x1f\x80-\xff]+boo")
_NAME_CODES = sorted({ord(c) for c in "infobxkINFOBXK_\u212a\u0130"} | {c for c in range(0x3001) if chr(c).isspace()})
_RAW_REFERENCE = re.compile(
    rb"&#(?:0*(?:%s)|x0*(?:%s));"
    % (b"|".join(b"%d" % c for c in _NAME_CODES), b"|".join(b"%x" % c for c in _NAME_CODES))
)


def template_key(name: Wikicode) -> str:
    """A template name as MediaWiki compares it: ' Template:Infobox_Book <!-- x -->' -> 'infobox book'."""
    return name_key(name.strip_code())


def may_be_book(page: Page) -> bool:
    if page.namespace != ARTICLE_NAMESPACE or page.is_redirect:
        return False
    text = page.text.lower()
    return "infobox" in text and MAY_HOLD_INFOBOX.search(text) is not None


def raw_marks(data: bytes) -> list[int]:
    """Where in these bytes of XML the name of the template may be: reader.PageStream parses the pages holding one."""
    low = data.lower()  # then a literal search: far faster than a case-insensitive pattern
    marks = [m.start() for m in _RAW_NAME.finditer(low)]
    marks += [m.start() for m in _RAW_REFERENCE.finditer(low)]  # a pattern with its own `&#`: faster than `in`
    return marks


def _descendants(code: Wikicode, nodes: list[Node]) -> list[Node]:
    """code.filter(recursive=True): every node, depth first, in the same order, at about a third of its cost (it
    yields each node up through a generator per level)."""
    for node in code.nodes:
        nodes.append(node)
        for child in node.__children__():
            _descendants(child, nodes)
    return nodes


def _raw_value(value: Wikicode) -> str:
    return "".join(str(node) for node in value.nodes if not isinstance(node, Comment)).strip()


def book_row(page: Page) -> list | None:
    """The ndjson row of a book page, or None when the page is not a book article."""
    return parse_book(page) if may_be_book(page) else None


def parse_book(page: Page) -> list | None:
    """The row of a page that passed `may_be_book`, or None when mwparserfromhell finds no infobox: read off the
    tokens (tokenwalk), or from the tree for the token sequences that walk does not mirror."""
    try:
        return parse_book_tokens(page)
    except (Unsupported, LookupError, ValueError):
        return parse_book_tree(page)  # which raises as before where mwparserfromhell does


def parse_book_tokens(page: Page) -> list | None:
    """parse_book from mwparserfromhell's token list; raises Unsupported where it cannot be sure to agree."""
    walk = TokenWalk(tokenize(page.text), TEMPLATE_NAME).run()
    params = walk.template_params()
    if params is None:
        return None
    wikilinks = [title for title in walk.wikilinks if title]
    external = [url for url in walk.external if url]
    return [page.title, params, wikilinks, external, page.timestamp, len(walk.text.strip())]


def _params(infobox: Template) -> dict[str, str]:
    params: dict[str, str] = {}
    for param in infobox.params:
        value = _raw_value(param.value)
        if value:  # like the original, empty values are left out
            params[param.name.strip_code().strip()] = value
    return params


def parse_book_tree(page: Page) -> list | None:
    """parse_book through mwparserfromhell's node tree: the reference the token walk must agree with."""
    code = mwparserfromhell.parse(page.text)
    # One walk of the tree, split by type: the same nodes in the same order as filter_templates(),
    # filter_wikilinks() and filter_external_links(), which would walk it three times.
    nodes = _descendants(code, [])
    infobox = next(
        (n for n in nodes if isinstance(n, Template) and template_key(n.name) == TEMPLATE_NAME),
        None,
    )
    if infobox is None:
        return None  # the words appear, but not as the template (a comment, prose, another template's name)
    params = _params(infobox)
    wikilinks = [t for n in nodes if isinstance(n, Wikilink) and (t := n.title.strip_code().strip())]
    external = [u for n in nodes if isinstance(n, ExternalLink) and (u := n.url.strip_code().strip())]
    return [page.title, params, wikilinks, external, page.timestamp, len(code.strip_code().strip())]


def to_line(row: list) -> str:
    return json.dumps(row) + "\n"  # ASCII escapes, like the original file
