"""What a book row needs from a page, read straight off mwparserfromhell's token list, without its node tree.

`mwparserfromhell.parse` is two steps: the C tokenizer turns the text into a flat list of tokens, then the
pure-Python Builder turns them into Wikicode and Node objects, which books.parse_book_tree then walks for the
templates, the links and `strip_code()`. On the candidate pages the Builder and those walks were most of the
parse (the tokenizer about an eighth). This walk reads the token list once, grouping the tokens as the Builder does and
stripping each group as the nodes' `__strip__` methods and `Wikicode.strip_code()` do (at every level: the
`strip("\\n")` and the collapse of three newlines), so the row is the same to the byte. The infobox's parameter
values are written back from their tokens as the nodes' `__str__` would write them, but for a value holding a
tag (whose `__str__` rebuilds attributes and padding), which the Builder builds, that value alone.

It mirrors only what the tokenizer emits: a sequence the Builder would group in another way (a second separator
in a link, a tag name or closing tag that is not plain text, a stray token) raises Unsupported, and the caller
parses that page into the tree instead.
"""

import re
from collections.abc import Callable
from html.entities import name2codepoint

from mwparserfromhell.definitions import is_visible
from mwparserfromhell.nodes import Comment
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


class TokenWalk:
    """One pass over a page's tokens: the strip_code() of the page, every wikilink title and external link URL
    in the order of the tree's depth-first walk, and where the first template named `template` is."""

    def __init__(self, token_list: list, template: str | None) -> None:
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
        try:
            self.text = self.level()
        except IndexError:
            raise Unsupported("unclosed construct") from None  # the Builder raises ParserError
        if self.pos != len(self.tokens):
            raise Unsupported(f"stray {type(self.tokens[self.pos]).__name__}")  # the Builder raises ParserError
        return self

    def template_params(self) -> dict[str, str] | None:
        """The found template's parameters as books._params takes them from its node: name -> raw wikitext less
        top-level comments, empty values left out; the Builder's Parameter objects cost as much as the walk."""
        if self.found is None:
            return None
        params: dict[str, str] = {}
        position = 1  # the name of a parameter without one, as the Builder numbers them
        for name, value in _split_params(self.tokens, *self.found):
            if name is None:
                key = str(position)
                position += 1
            else:
                key = TokenWalk(name, None).run().text.strip()  # `param.name.strip_code().strip()`
            raw = raw_value(value)
            if raw:
                params[key] = raw
        return params

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
        text = "".join(parts).strip("\n")  # Wikicode.strip_code()'s ending (collapse=True), at every level
        while "\n\n\n" in text:
            text = text.replace("\n\n\n", "\n\n")
        return text

    def kind(self) -> type:
        """The type of the token at self.pos (IndexError at the end: run() turns it into Unsupported)."""
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


def _split_params(token_list: list, start: int, end: int) -> list[tuple[list | None, list]]:
    """The (name tokens or None, value tokens) of each parameter of the template from token `start` to `end`
    (its TemplateOpen and TemplateClose): the separators and `=` at its own level, which TokenWalk checked."""
    params: list[tuple[list | None, list]] = []
    depth = 0
    begin = equals = None
    for pos in range(start + 1, end + 1):
        kind = type(token_list[pos])
        if kind in _OPENS:
            depth += 1
        elif kind in _CLOSES and pos < end:
            depth -= 1
        elif depth == 0 and kind is tokens.TemplateParamEquals and begin is not None and equals is None:
            equals = pos
        elif depth == 0 and kind in (tokens.TemplateParamSeparator, tokens.TemplateClose):
            if begin is not None:
                if equals is None:
                    params.append((None, token_list[begin:pos]))
                else:
                    params.append((token_list[begin:equals], token_list[equals + 1 : pos]))
            begin, equals = pos + 1, None
    return params


def raw_value(value: list) -> str:
    """books._raw_value of a parameter value from its tokens: the wikitext of its nodes, as str(node) writes
    them, less the comments at its own level, stripped. Tags (whose str() rebuilds attributes, padding and wiki
    markup) go through the Builder."""
    parts: list[str] = []
    depth = 0
    brackets: list[bool] = []  # of the external links open, for their close
    levels: list[int] = []  # of the headings open, for their end (str() repeats the start's)
    skipping = False  # in a comment at the value's own level
    for token in value:
        kind = type(token)
        if skipping:
            skipping = kind is not tokens.CommentEnd
            continue
        if kind is Text:
            parts.append(token["text"])
            continue
        if kind is tokens.CommentStart and depth == 0:
            skipping = True
            continue
        fixed = _RAW.get(kind)
        if fixed is not None:
            parts.append(fixed)
        elif kind is tokens.ExternalLinkOpen:
            brackets.append(bool(token.get("brackets")))
            parts.append("[" if brackets[-1] else "")
        elif kind is tokens.ExternalLinkSeparator and brackets and brackets[-1]:
            parts.append("" if token.get("suppress_space") is True else " ")
        elif kind is tokens.ExternalLinkClose and brackets:
            parts.append("]" if brackets.pop() else "")
        elif kind is tokens.HTMLEntityHex:
            parts.append(token["char"])
        elif kind is tokens.HeadingStart:
            levels.append(token["level"])
            parts.append("=" * levels[-1])
        elif kind is tokens.HeadingEnd and levels:
            parts.append("=" * levels.pop())
        else:  # a tag, or a separator str() leaves out (a bare URL's): let the nodes write themselves
            return "".join(
                str(node) for node in Builder().build(list(value)).nodes if not isinstance(node, Comment)
            ).strip()
        depth += (kind in _OPENS) - (kind in _CLOSES)
    return "".join(parts).strip()


# How str() writes the nodes' other tokens (nodes/*.py __str__).
_RAW = {
    tokens.TemplateOpen: "{{",
    tokens.TemplateParamSeparator: "|",
    tokens.TemplateParamEquals: "=",
    tokens.TemplateClose: "}}",
    tokens.ArgumentOpen: "{{{",
    tokens.ArgumentSeparator: "|",
    tokens.ArgumentClose: "}}}",
    tokens.WikilinkOpen: "[[",
    tokens.WikilinkSeparator: "|",
    tokens.WikilinkClose: "]]",
    tokens.HTMLEntityStart: "&",
    tokens.HTMLEntityNumeric: "#",
    tokens.HTMLEntityEnd: ";",
    tokens.CommentStart: "<!--",
    tokens.CommentEnd: "-->",
}
_OPENS = frozenset(
    (
        tokens.TemplateOpen,
        tokens.ArgumentOpen,
        tokens.WikilinkOpen,
        tokens.ExternalLinkOpen,
        tokens.HTMLEntityStart,
        tokens.HeadingStart,
        tokens.CommentStart,
        tokens.TagOpenOpen,
    )
)
_CLOSES = frozenset(
    (
        tokens.TemplateClose,
        tokens.ArgumentClose,
        tokens.WikilinkClose,
        tokens.ExternalLinkClose,
        tokens.HTMLEntityEnd,
        tokens.HeadingEnd,
        tokens.CommentEnd,
        tokens.TagCloseClose,
        tokens.TagCloseSelfclose,
    )
)

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
