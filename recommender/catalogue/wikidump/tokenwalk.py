"""What a book row needs from a page, read straight off mwparserfromhell's token list, without its node tree.

`mwparserfromhell.parse` is two steps: the C tokenizer turns the text into a flat list of tokens, then the
pure-Python Builder turns them into Wikicode and Node objects, which books.parse_book_tree then walks for the
templates, the links and `strip_code()`. On the candidate pages the Builder and those walks were about 90% of
the parse (the tokenizer 10%). This walk reads the token list once, grouping the tokens as the Builder does and
stripping each group as the nodes' `__strip__` methods and `Wikicode.strip_code()` do (at every level: the
`strip("\\n")` and the collapse of three newlines), so the row is the same to the byte.

It mirrors only what the tokenizer emits: a sequence the Builder would group in another way (a second separator
in a link, a tag name or closing tag that is not plain text, a stray token) raises Unsupported, and the caller
parses that page into the tree instead.
"""

import re
from collections.abc import Callable
from html.entities import name2codepoint

from mwparserfromhell.definitions import is_visible
from mwparserfromhell.nodes import Template
from mwparserfromhell.parser import CTokenizer, tokens
from mwparserfromhell.parser.builder import Builder
from mwparserfromhell.parser.tokenizer import Tokenizer

Text = tokens.Text
_SPACES = re.compile(r"[\s_]+")


class Unsupported(Exception):
    """A token sequence this walk does not mirror exactly: parse the page into the tree instead."""


def tokenize(text: str) -> list:
    """The tokens mwparserfromhell.parse(text) builds its tree from (the C tokenizer when it is compiled)."""
    tokenizer = CTokenizer() if CTokenizer is not None else Tokenizer()
    return tokenizer.tokenize(text, 0, False)


def name_key(stripped: str) -> str:
    """A template name's strip_code() as MediaWiki compares it: ' Template:Infobox_Book ' -> 'infobox book'."""
    key = _SPACES.sub(" ", stripped).strip().lower()
    if key.startswith("template:"):
        key = key[len("template:") :].strip()
    return key


def _collapse(parts: list[str]) -> str:
    """Wikicode.strip_code()'s ending (collapse=True), applied at every level of the tree."""
    text = "".join(parts).strip("\n")
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


class TokenWalk:
    """One pass over a page's tokens: the strip_code() of the page, every wikilink title and external link URL
    in the order of the tree's depth-first walk, and where the first template named `template` is."""

    def __init__(self, token_list: list, template: str) -> None:
        self.tokens = token_list
        self.pos = 0
        self.template = template
        # A link is counted when it opens, before the links inside it (the tree walk is pre-order): a slot is
        # kept for it and filled once its title or URL is read; empty ones are left out at the end.
        self.wikilinks: list[str] = []
        self.external: list[str] = []
        self.found: tuple[int, int] | None = None  # token positions of the template's open and close
        self.text = ""

    def run(self) -> "TokenWalk":
        self.text = self.level()
        if self.pos != len(self.tokens):
            raise Unsupported(f"stray {type(self.tokens[self.pos]).__name__}")  # the Builder raises ParserError
        return self

    def template_node(self) -> Template | None:
        """The template found, built into a node by the Builder from its own tokens (a copy: build consumes it)."""
        if self.found is None:
            return None
        start, end = self.found
        return Builder().build(self.tokens[start : end + 1]).nodes[0]

    # ------------------------------------------------------------------------------------------- the walk
    def level(self) -> str:
        """strip_code() of the node list from self.pos up to the first token that starts no node (its
        construct's separator or close, or the end), where self.pos is left."""
        token_list, parts, pos, end = self.tokens, [], self.pos, len(self.tokens)
        while pos < end:
            token = token_list[pos]
            kind = type(token)
            if kind is Text:  # most tokens: inline, and the dict lookup skips Token.__getattr__
                parts.append(token["text"])
                pos += 1
                continue
            handler = _HANDLERS.get(kind)
            if handler is None:
                break
            self.pos = pos
            stripped = handler(self, token)
            if stripped:
                parts.append(stripped)
            pos = self.pos
        self.pos = pos
        return _collapse(parts)

    def kind(self) -> type:
        if self.pos >= len(self.tokens):
            raise Unsupported("unclosed construct")
        return type(self.tokens[self.pos])

    def expect(self, kind: type) -> None:
        if self.kind() is not kind:
            raise Unsupported(f"{type(self.tokens[self.pos]).__name__} where {kind.__name__} was expected")
        self.pos += 1

    def plain(self) -> str:
        """The raw text of a run of Text tokens (a tag's name), Unsupported when anything else is in it."""
        start = self.pos
        while self.kind() is Text:
            self.pos += 1
        return "".join(t["text"] for t in self.tokens[start : self.pos])

    def template_(self, token: tokens.TemplateOpen) -> None:
        start = self.pos
        self.pos += 1
        name = self.level()
        while self.kind() is tokens.TemplateParamSeparator:
            self.pos += 1
            self.level()  # a parameter's name, or its value when it has none
            if self.kind() is tokens.TemplateParamEquals:
                self.pos += 1
                self.level()
        self.expect(tokens.TemplateClose)
        # Templates nested in this one's name were walked before this check, yet come after it in the tree
        # walk: the first template is the one opening first.
        if name_key(name) == self.template and (self.found is None or start < self.found[0]):
            self.found = (start, self.pos - 1)
        return None  # strip_code() drops templates (keep_template_params=False)

    def argument(self, token: tokens.ArgumentOpen) -> str | None:
        self.pos += 1
        self.level()
        default = None
        if self.kind() is tokens.ArgumentSeparator:
            self.pos += 1
            default = self.level()
        self.expect(tokens.ArgumentClose)
        return default

    def wikilink(self, token: tokens.WikilinkOpen) -> str:
        slot = len(self.wikilinks)
        self.wikilinks.append("")
        self.pos += 1
        title = self.level()
        self.wikilinks[slot] = title.strip()
        if self.kind() is tokens.WikilinkSeparator:
            self.pos += 1
            title = self.level()  # the text shown, [[title|text]], even when empty
        self.expect(tokens.WikilinkClose)
        return title

    def external_link(self, token: tokens.ExternalLinkOpen) -> str | None:
        slot = len(self.external)
        self.external.append("")
        self.pos += 1
        url = self.level()
        self.external[slot] = url.strip()
        title = None
        if self.kind() is tokens.ExternalLinkSeparator:
            self.pos += 1
            title = self.level()
        self.expect(tokens.ExternalLinkClose)
        return title if token.get("brackets") else url  # a bare URL is its own text

    def entity(self, token: tokens.HTMLEntityStart) -> str:
        # strip_code(normalize=True): the character itself, as HTMLEntity.normalize()
        self.pos += 1
        if self.kind() is tokens.HTMLEntityNumeric:
            self.pos += 1
            if self.kind() is tokens.HTMLEntityHex:
                self.pos += 1
                character = chr(int(self.tokens[self.pos]["text"], 16))
            else:
                character = chr(int(self.tokens[self.pos]["text"]))
        else:
            character = chr(name2codepoint[self.tokens[self.pos]["text"]])
        self.pos += 1
        self.expect(tokens.HTMLEntityEnd)
        return character

    def heading(self, token: tokens.HeadingStart) -> str:
        self.pos += 1
        title = self.level()
        self.expect(tokens.HeadingEnd)
        return title

    def comment(self, token: tokens.CommentStart) -> None:
        self.pos += 1
        self.level()
        self.expect(tokens.CommentEnd)
        return None

    def tag(self, token: tokens.TagOpenOpen) -> str | None:
        self.pos += 1
        name = self.plain()
        while self.kind() is tokens.TagAttrStart:
            self.attribute()
        if self.kind() is tokens.TagCloseSelfclose:
            self.pos += 1
            return None  # no contents: <br>, <ref name="x" />, list items
        self.expect(tokens.TagCloseOpen)
        contents = self.level()
        self.expect(tokens.TagOpenClose)
        self.plain()  # the closing tag's name
        self.expect(tokens.TagCloseClose)
        # Tag.__strip__: the contents, unless the tag shows none (<gallery>, <math>, ...); attributes never
        return contents if is_visible(name) else None

    def attribute(self) -> None:
        """A tag attribute: only the links in it matter (walked, not shown)."""
        self.pos += 1
        self.level()  # the name
        if self.kind() is tokens.TagAttrEquals:
            self.pos += 1
            if self.kind() is tokens.TagAttrQuote:  # the Builder keeps on the same value
                self.pos += 1
            self.level()
        if self.kind() not in (tokens.TagAttrStart, tokens.TagCloseOpen, tokens.TagCloseSelfclose):
            raise Unsupported(f"{type(self.tokens[self.pos]).__name__} in a tag attribute")


_HANDLERS: dict[type, Callable[[TokenWalk, tokens.Token], str | None]] = {
    tokens.TemplateOpen: TokenWalk.template_,
    tokens.ArgumentOpen: TokenWalk.argument,
    tokens.WikilinkOpen: TokenWalk.wikilink,
    tokens.ExternalLinkOpen: TokenWalk.external_link,
    tokens.HTMLEntityStart: TokenWalk.entity,
    tokens.HeadingStart: TokenWalk.heading,
    tokens.CommentStart: TokenWalk.comment,
    tokens.TagOpenOpen: TokenWalk.tag,
}
