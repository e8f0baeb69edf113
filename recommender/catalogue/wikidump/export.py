"""Writing pages in MediaWiki's XML export format (export-0.10), bz2-compressed: small dumps for tests and
generated ones for benchmarks/dump_parse.py, shaped like the real `pages-articles` files."""

import bz2
import hashlib
from collections.abc import Iterable
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from recommender.catalogue.wikidump.reader import Page

HEADER = """<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" version="0.10" xml:lang="en">
  <siteinfo>
    <sitename>Wikipedia</sitename>
    <dbname>enwiki</dbname>
    <base>https://en.wikipedia.org/wiki/Main_Page</base>
    <generator>MediaWiki 1.32.0-wmf.20</generator>
    <case>first-letter</case>
    <namespaces>
      <namespace key="0" case="first-letter" />
      <namespace key="2" case="first-letter">User</namespace>
      <namespace key="4" case="first-letter">Wikipedia</namespace>
      <namespace key="6" case="first-letter">File</namespace>
      <namespace key="10" case="first-letter">Template</namespace>
      <namespace key="14" case="first-letter">Category</namespace>
    </namespaces>
  </siteinfo>
"""
FOOTER = "</mediawiki>\n"


def page_xml(page: Page, page_id: int, redirect_to: str = "") -> str:
    text = page.text
    redirect = f"    <redirect title={quoteattr(redirect_to)} />\n" if page.is_redirect else ""
    sha1 = hashlib.sha1(text.encode()).hexdigest()[:31]
    return (
        f"  <page>\n    <title>{escape(page.title)}</title>\n    <ns>{page.namespace}</ns>\n"
        f"    <id>{page_id}</id>\n{redirect}    <revision>\n      <id>{page_id * 7}</id>\n"
        f"      <parentid>{page_id * 7 - 3}</parentid>\n      <timestamp>{page.timestamp}</timestamp>\n"
        f"      <contributor>\n        <username>Editor{page_id % 97}</username>\n"
        f"        <id>{page_id % 9973}</id>\n      </contributor>\n      <comment>copyedit</comment>\n"
        "      <model>wikitext</model>\n      <format>text/x-wiki</format>\n"
        f'      <text xml:space="preserve" bytes="{len(text.encode())}">{escape(text)}</text>\n'
        f"      <sha1>{sha1}</sha1>\n    </revision>\n  </page>\n"
    )


def write_dump(path: Path, pages: Iterable[Page], compresslevel: int = 9) -> Path:
    """Write pages as a MediaWiki export; bz2-compressed when the name ends in .bz2."""
    path = Path(path)
    if path.suffix == ".bz2":
        out = bz2.open(path, "wt", encoding="utf-8", compresslevel=compresslevel)  # noqa: SIM115
    else:
        out = open(path, "w", encoding="utf-8")  # noqa: SIM115  # closed by the with below
    with out:
        out.write(HEADER)
        for number, page in enumerate(pages, start=1):
            target = page.text.partition("[[")[2].partition("]]")[0] if page.is_redirect else ""
            out.write(page_xml(page, number, target))
        out.write(FOOTER)
    return path
