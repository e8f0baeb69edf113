"""The token walk (books.parse_book_tokens, wikidump.tokenwalk) against mwparserfromhell's tree (parse_book_tree):
the same rows, and the same plain text, links and URLs, on hand-written tricky wikitext and on the pages of a
generated dump. Nothing here needs the database."""

import random

import mwparserfromhell
import pytest

from benchmarks.dump_parse import PageMaker
from recommender.catalogue.wikidump.books import TEMPLATE_NAME, parse_book, parse_book_tokens, parse_book_tree
from recommender.catalogue.wikidump.reader import Page
from recommender.catalogue.wikidump.tokenwalk import TokenWalk, Unsupported, tokenize

STAMP = "2026-10-01T12:00:00Z"
INFOBOX = "{{Infobox book\n| name = X <!-- c -->\n| author = [[A. Author]]\n| isbn = {{ISBN|0-1}}\n}}\n"

SNIPPETS = [
    # templates, nested, with links in names, parameters and values
    "{{a|{{b|[[L1]]}}|x=[[L2|t]]|y = {{c|z=[[L3]]}} }} after",
    "{{ {{name}} |p=[[In name param]]}} {{a|b=c=d|e}} {{a||}} {{}} {{ }}",
    "{{#if:a|[[b]]|[[c]]}} {{DEFAULTSORT:x, y}} __NOTOC__ {{!}} {{=}}",
    "{{{{{a}}}}} {{{{b}}}} {{{1|default [[Arg link]]}}} {{{x}}} {{{y|}}}",
    "{{Infobox wrapper|child={{Infobox book|name=Nested|author=[[Inner]]}}}} {{Infobox book|name=Second}}",
    "{{ Template:Infobox_BOOK <!-- x --> |name=Spelled|1=positional|two}}",
    "{{ {{Infobox book|name=In a name}} |x=1}}",
    # references and comments
    '<ref name="a">{{cite web|url=http://x.org/a|title=[[T]]}} text [http://y.org Y]</ref><ref name=b/>',
    "text<ref>\n\n\n\nmany\n\n\n\nnewlines\n\n\n</ref> end<references />\n{{Reflist}}",
    "<!-- [[Hidden]] http://hidden.org --> shown <!----> <!-- never closed [[Gone]]",
    "a <!-- c1 --><!-- c2 -->\n\n\n\n\nb",
    # tables
    '{| class="wikitable" style="{{x|y}}"\n|+ Caption [[Cap]]\n! H1 !! H2\n|-\n| a [[Cell]] || 2\n|-\n'
    '| colspan="2" | {|\n| nested || [http://t.org in table]\n|}\n|}',
    "{|\n|-\n| unclosed table [[U]]\n",
    # entities
    "&amp; &nbsp; &#160; &#x2014; &#X41; &bogus; &Sigma; &#0; &#1114111; & amp; [[A&amp;B]] [[&#x41;]]",
    # headings
    "== H [[HL]] ==\ntext\n=== {{tpl}} ===\n= Top =\n==<!-- c --> C ==\n====== six ======\n== unclosed",
    # bold and italic
    "'''''x''''' '''b''' ''i'' '''unbalanced\nnext ''line'' l'''apostrophe'''s ''''four''''",
    # external links
    "[http://a.com] [http://a.com title [[L in title]]] http://b.com/path. [//proto.rel x] mailto:me@x.org "
    "[mailto:me@x.org mail] [http:// ] [https://e.org/{{x}} t] https://q.org/?a=1&amp;b=2 [ftp://f.org\tf]",
    "{{cite|url=https://in.template.org/x|title=[https://ext.in.param.org t]}} <span>http://span.org</span>",
    # wikilinks: files, categories, interwiki, odd ones
    "[[File:x.jpg|thumb|A [[b]] c|alt=[[d]]]] [[Image:y.png|[[e]] [http://f.org f]]]",
    "[[Category:X|sort]] [[fr:X]] [[:Category:Y]] [[ ]] [[|x]] [[a|]] [[a|b|c]] [[a#b|c]] [[ spaced ]]",
    "[[unclosed link {{x}} [[a]] ]] [[L|''styled'' &amp; {{t}}]] [[{{tpl}}]] [[<!--c-->]]",
    # extension and HTML tags
    "<nowiki>[[x]] {{y}} &amp;</nowiki> <pre>[[p]] {{q}}</pre> <math>x^2 [[m]]</math> <nowiki/>",
    "<gallery>\nFile:a.jpg|[[Cap]]\n</gallery> <syntaxhighlight lang=py>[[s]]</syntaxhighlight> <timeline>x</timeline>",
    '<div style="x">[[In div]]</div> <span title="[[t]]">s</span> <span class=a>u</span> <span data-x>v</span>',
    "<br> <br/> <br /> <hr> <small>small [[S]]</small> <sup>1</sup> <blockquote>q</blockquote> <center>c</center>",
    "<div>unclosed [[U1]] <span>x <b>bold</div> stray </div> </span> <p>para",
    "<poem>\nline [[P]]\n\n\n\nline</poem> <onlyinclude>o</onlyinclude> <noinclude>[[N]]</noinclude>",
    "<includeonly>{{i}}</includeonly> <ref>unclosed ref {{x|[[r]]</ref> <ref>[[closed]]</ref>",
    "<REF NAME=up>upper</REF> <Gallery>g</Gallery> <MATH>m</MATH> <DiV>d</dIv>",
    "<references>\n<ref name=a>[[Defined]]</ref>\n</references>",
    # lists, rules, signatures
    "* a\n** b [[B]]\n# c\n#: d\n; term : def [[D]]\n----\n~~~~ ",
    # non-ASCII
    "[[Война и мир]] — «ёлка» 日本語 🎉 e\u0301 [[Ünïcödé|ü]] {{Ü|ß=[[ẞ]]}} \u00a0nbsp\u2003em",
    # whitespace at the edges of every level
    "\n\n\n[[\n\nT\n\n|\n\ntext\n\n]]\n\n\n<ref>\n\nx\n\n</ref>\n\n\n== \n\nH\n\n ==\n\n\n",
    "[http://n.org \n\n\nspaced\n\n\n] '''\n\n\nb\n\n\n''' <div>\n\n\n\n</div>",
    # nesting deeper than the tokenizer's limit, where it gives up and leaves text
    "{{a|" * 150 + "[[deep]]" + "}}" * 150,
    "[[a|" * 120 + "]]" * 120,
    "<div>" * 300 + "[[x]]" + "</div>" * 300,
]


def tree_parts(text: str) -> tuple[str, list[str], list[str]]:
    """What the row takes from the tree: strip_code(), link titles and URLs (empty ones too)."""
    code = mwparserfromhell.parse(text)
    links = [link.title.strip_code().strip() for link in code.filter_wikilinks()]
    urls = [link.url.strip_code().strip() for link in code.filter_external_links()]
    return code.strip_code(), links, urls


def token_parts(text: str) -> tuple[str, list[str], list[str]]:
    walk = TokenWalk(tokenize(text), TEMPLATE_NAME).run()
    return walk.text, walk.wikilinks, walk.external


def variants(snippet: str) -> list[str]:
    """The snippet after the infobox, inside one of its values and before it."""
    return [INFOBOX + snippet, "{{Infobox book|name=V|value=" + snippet + "\n}}", snippet + "\n" + INFOBOX]


def page(text: str) -> Page:
    return Page("T", 0, False, STAMP, text)


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_tricky_wikitext_gives_the_rows_of_the_tree(snippet):
    for text in variants(snippet):
        assert parse_book(page(text)) == parse_book_tree(page(text))
        try:
            fast = token_parts(text)
        except Unsupported:
            continue  # parse_book took the tree, checked above
        assert fast == tree_parts(text)
        assert parse_book_tokens(page(text)) == parse_book_tree(page(text))


def test_the_walk_takes_nearly_every_tricky_page():
    texts = [text for snippet in SNIPPETS for text in variants(snippet)]
    unsupported = []
    for text in texts:
        try:
            token_parts(text)
        except Unsupported:
            unsupported.append(text)
    assert len(unsupported) <= len(texts) // 10, unsupported


def test_strip_code_levels_are_collapsed_each_on_its_own():
    # each link text, tag and heading is stripped of its edge newlines before it joins its parent
    text = "a\n\n[[x|\n\nshown\n\n]]\n\n\n\nb<ref>\n\n\nr\n\n\n</ref>"
    assert token_parts(text)[0] == tree_parts(text)[0] == "a\n\nshown\n\nbr"


def test_links_come_in_the_order_of_the_tree_walk():
    text = "[[Outer|[[Inner]]]] {{t|[[In template]]|{{u|[[Deeper]]}}}} [http://o.org [[In title]]] [[Last]]"
    assert token_parts(text)[1] == ["Outer", "Inner", "In template", "Deeper", "In title", "Last"]
    assert token_parts(text) == tree_parts(text)


def test_first_infobox_is_the_outermost_even_when_one_is_in_its_name():
    text = "{{Infobox book |name=Outer {{Infobox book|name=Inner}} }}"
    row = parse_book_tokens(page(text))
    assert row == parse_book_tree(page(text))
    assert row[1]["name"] == "Outer {{Infobox book|name=Inner}}"


def test_unsupported_sequences_fall_back_to_the_tree(monkeypatch):
    import recommender.catalogue.wikidump.books as books

    def refuse(page: Page) -> list | None:
        raise Unsupported("test")

    monkeypatch.setattr(books, "parse_book_tokens", refuse)
    text = INFOBOX + "[[x]]"
    assert books.parse_book(page(text)) == parse_book_tree(page(text)) is not None


@pytest.fixture(scope="module")
def generated_pages() -> list[Page]:
    """The benchmark's generator: every page of a small dump, and book articles made on purpose."""
    maker = PageMaker(seed=7)
    pages = [maker.page(number) for number in range(2000)]
    pages += [Page(f"Book {n}", 0, False, STAMP, maker.article(f"Book {n}", book=True)) for n in range(150)]
    return pages


def test_every_generated_page_gives_what_the_tree_gives(generated_pages):
    books = 0
    for generated in generated_pages:
        fast = parse_book_tokens(generated)  # never Unsupported on these
        assert fast == parse_book_tree(generated), generated.title
        assert token_parts(generated.text) == tree_parts(generated.text), generated.title
        books += fast is not None
    assert books >= 150


def test_infobox_values_are_written_back_as_the_nodes_write_themselves():
    text = (
        "{{Infobox book\n| name = first\n| mixed = &#X2014; &amp; [[a|b]] {{{1|d}}} <!-- top --> {{t|<!-- kept -->}}\n"
        "| url = [http://a.org]x [http://b.org<b>t</b>] [http://c.org  spaced] http://d.org\n"
        "| heading = \n== H ==\n| tag = <br /> <ref name=x>[[r]]</ref>\n| = empty name\n| positional\n"
        "| 7 = seven | again \n| name = later <!-- replaces the first --> \n| blank = <!-- -->\n}}"
    )
    row = parse_book_tokens(page(text))
    assert row == parse_book_tree(page(text))
    assert row[1] == {
        "name": "later",  # where the first one was, as a dict keeps it
        "mixed": "&#X2014; &amp; [[a|b]] {{{1|d}}}  {{t|<!-- kept -->}}",
        "url": "[http://a.org]x [http://b.org<b>t</b>] [http://c.org  spaced] http://d.org",
        "heading": "== H ==",
        "tag": "<br /> <ref name=x>[[r]]</ref>",
        "": "empty name",
        "1": "positional",
        "7": "seven",
        "2": "again",
    }


# Pieces of markup, balanced or not, for random pages: what the tokenizer backtracks over is where a walk that
# groups tokens on its own could part from the Builder.
PIECES = [
    "{{", "}}", "{{{", "}}}", "[[", "]]", "[", "]", "|", "=", "==", "=== h ===\n", "\n", "\n\n\n", "'''", "''",
    "<ref>", "</ref>", "<ref name=x/>", "<!--", "-->", "&amp;", "&#x41;", "&#X2014;", "&#65;", "&bogus;", " ", "text",
    "Ü", "<div>", "</div>", "<br>", "<br />", "{|", "|}", "|-", "!", "||", "* ", "# ", ":", ";", "<nowiki>",
    "</nowiki>", "<gallery>", "</gallery>", "Infobox book", "File:", "Category:", "<span class='a'>", "</span>",
    "<math>", "</math>", "----", "~~~~", "http://a.org/x", "[http://e.org t]", "mailto:x@y.org", "//p.org", '"',
    "'", "<", ">", "/", "&", "#",
]  # fmt: skip
OPENINGS = ["{{Infobox book|", "{{infobox_book\n| a = ", "x {{Infobox book | name = ", ""]
CLOSINGS = ["}}", "\n}}", "|x=}}}}", ""]


def test_random_markup_gives_what_the_tree_gives():
    rng = random.Random(12)
    books = 0
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40)))
        text = rng.choice(OPENINGS) + text + rng.choice(CLOSINGS)
        assert token_parts(text) == tree_parts(text), text
        row = parse_book_tokens(page(text))
        assert row == parse_book_tree(page(text)), text
        books += row is not None
    assert books > 1000
