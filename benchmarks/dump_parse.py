"""Parsing a Wikipedia dump: the original project's way against recommender.catalogue.wikidump, side by side.

Generates a dump in MediaWiki export format shaped like enwiki `pages-articles` (articles of lognormal size
with wikilinks, references with citation templates, other infoboxes, tables and categories; redirects;
Template/Wikipedia/File/Category pages; about 1% book articles with an `Infobox book` in its variants,
nested templates inside) as two bz2 partitions, then measures on the same files in one run:

1. the original way (wikipedia-data-science's notebook): `bzcat` piped line by line into a SAX handler, and
   every page parsed with mwparserfromhell looking for the template, one partition after the other;
2. this parser in one process (`parse_files(..., processes=1)`): decompression, the raw scan and the parsing of
   the candidates; with 7-Zip installed (the default decoder then, streams.py) its decoder is a child process,
   as the original's `bzcat` is, else libbz2 in the same thread;
3. the same pinned to one core (`sched_setaffinity`; a 7-Zip child shares that core);
4. this parser in two processes (one partition each);
5. the floor: decompression alone, libbz2 and (when installed) 7-Zip's decoder.

Targets: (2) and (3) at least 10x (1) in pages/s; (4) near-linear, at least 1.8x (3) with 2 cores. The warm-up
(imports, a small dump parsed once by each) is outside the figures. Run it under flock on an idle machine:

    .venv/bin/python benchmarks/dump_parse.py --keep /tmp/dump-bench --generate-only  # outside the lock
    flock /tmp/bench.lock .venv/bin/python benchmarks/dump_parse.py --keep /tmp/dump-bench [--pages 50000]
    flock /tmp/bench.lock .venv/bin/python benchmarks/dump_parse.py --keep /tmp/dump-bench --profile
"""

import argparse
import itertools
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import xml.sax
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mwparserfromhell  # noqa: E402

from recommender.catalogue.wikidump.export import write_dump  # noqa: E402
from recommender.catalogue.wikidump.files import FileResult  # noqa: E402
from recommender.catalogue.wikidump.parallel import parse_files  # noqa: E402
from recommender.catalogue.wikidump.reader import Page  # noqa: E402
from recommender.catalogue.wikidump.streams import SEVEN_ZIP, read_chunks, seven_zip  # noqa: E402

SPEEDUP_TARGET = 10.0
SCALING_TARGET = 1.8  # of 2.0 with two processes on two cores


# ----------------------------------------------------------------------------------------- the generated dump
class PageMaker:
    """Realistic wikitext from a Zipf vocabulary, so that it compresses like Wikipedia's (about 4-5x in bz2)."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        syllables = ["an", "ber", "cal", "do", "el", "for", "gan", "hi", "is", "jo", "ka", "lem", "mor", "ne", "ol"]
        syllables += ["par", "qui", "ros", "sta", "ter", "un", "ver", "wal", "xe", "yor", "zen", "th", "ing", "ed"]
        words = {"".join(self.rng.choices(syllables, k=self.rng.choice((1, 2, 2, 3, 3, 4)))) for _ in range(30_000)}
        self.words = sorted(words)
        self.cum_weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(self.words))))
        self.titles = [self.title() for _ in range(20_000)]

    def sentence(self, links: int = 2) -> str:
        words = self.rng.choices(self.words, cum_weights=self.cum_weights, k=self.rng.randint(8, 30))
        for _ in range(links):
            target = self.rng.choice(self.titles)
            position = self.rng.randrange(len(words))
            if self.rng.random() < 0.3:
                words[position] = f"[[{target}|{words[position]}]]"
            else:
                words[position] = f"[[{target}]]"
        return " ".join(words).capitalize() + "."

    def title(self) -> str:
        count = self.rng.choice((1, 2, 2, 3))
        return " ".join(w.capitalize() for w in self.rng.choices(self.words[:8000], k=count))

    def citation(self) -> str:
        year = self.rng.randint(1990, 2018)
        if self.rng.random() < 0.3:
            return f'<ref name="{self.rng.choice(self.words)}{self.rng.randint(1, 40)}" />'
        return (
            f"<ref>{{{{cite web |last={self.title()} |first={self.rng.choice(self.words).capitalize()} "
            f"|url=https://www.{self.rng.choice(self.words)}.com/{self.rng.randint(1, 99999)} "
            f"|title={self.title()} |publisher=[[{self.rng.choice(self.titles)}]] "
            f"|date={year}-0{self.rng.randint(1, 9)}-1{self.rng.randint(0, 9)} "
            f"|access-date=2018-08-2{self.rng.randint(0, 9)} |work=''{self.title()}'' "
            f"|archive-url=https://web.archive.org/web/2018/{self.rng.randint(1, 99999)} |url-status=live}}}}</ref>"
        )

    def maybe_citation(self) -> str:
        return self.citation() if self.rng.random() < 0.5 else ""

    def other_infobox(self, title: str) -> str:
        kind = self.rng.choice(("person", "settlement", "film", "album", "football biography"))
        rows = [f"| name = {title}", f"| image = {title.replace(' ', '_')}.jpg", f"| caption = {self.sentence(0)}"]
        rows += [f"| {self.rng.choice(self.words[:300])} = [[{self.rng.choice(self.titles)}]]" for _ in range(8)]
        rows.append(f"| birth_date = {{{{birth date and age|19{self.rng.randint(10, 99)}|5|1}}}}")
        return "{{Infobox " + kind + "\n" + "\n".join(rows) + "\n}}\n"

    def book_infobox(self, title: str) -> str:
        name = self.rng.choice(("Infobox book", "Infobox book", "Infobox book", "infobox Book", "Infobox_book"))
        # the WikiProject boilerplate of most book articles, or none
        opening = "| <!-- See [[Wikipedia:WikiProject Novels]] -->" if self.rng.random() < 0.7 else ""
        author = self.rng.choice(self.titles)
        rows = [
            f"| name = {title}",
            f"| image = {title.replace(' ', '_')} cover.jpg",
            f"| author = {self.author(author)}",
            f"| country = [[{self.rng.choice(('United Kingdom', 'United States', 'France', 'Canada'))}]]",
            "| language = English",
            f"| genre = [[{self.rng.choice(('Novel', 'Science fiction', 'Fantasy', 'Biography', 'Mystery fiction'))}]]",
            f"| publisher = [[{self.rng.choice(self.titles)}]]",
            f"| release_date = {{{{Start date|{self.rng.randint(1800, 2018)}}}}}",
            "| media_type = Print ([[Hardcover]] and [[Paperback]])",
            f"| pages = {self.rng.randint(90, 900)}",
            f"| isbn = {{{{ISBN|978-0-{self.rng.randint(100, 999)}-{self.rng.randint(10000, 99999)}-1}}}}",
        ]
        return "{{" + name + opening + "\n" + "\n".join(rows) + "\n}}\n"

    def author(self, name: str) -> str:
        if self.rng.random() < 0.7:
            return f"[[{name}]]"
        return "{{Plainlist|\n* [[" + name + "]]\n* [[" + self.rng.choice(self.titles) + "]]}}"

    def article(self, title: str, book: bool) -> str:
        size = min(120_000, int(self.rng.lognormvariate(math.log(3500), 1.0)))
        parts = ["{{Short description|" + self.sentence(0)[:60] + "}}\n"]
        if book:
            parts.append(self.book_infobox(title))
        elif self.rng.random() < 0.4:
            parts.append(self.other_infobox(title))
        parts.append(f"'''{title}''' {self.sentence()}{self.citation()} {self.sentence()}\n\n")
        length = sum(len(p) for p in parts)
        while length < size:
            if self.rng.random() < 0.15:
                block = f"\n== {self.title()} ==\n"
            elif self.rng.random() < 0.05:
                cells = "\n|-\n".join(f"| {self.sentence(1)} || {self.rng.randint(1, 999)}" for _ in range(4))
                block = '{| class="wikitable"\n! Name !! Value\n|-\n' + cells + "\n|}\n"
            else:
                # about one reference every two sentences, as in a well-sourced article
                count = self.rng.randint(2, 6)
                block = " ".join(self.sentence() + self.maybe_citation() for _ in range(count)) + "\n\n"
            parts.append(block)
            length += len(block)
        parts.append("\n== References ==\n{{Reflist}}\n\n{{Authority control}}\n")
        parts.append(f"{{{{DEFAULTSORT:{title}}}}}\n")
        parts += [f"[[Category:{self.title()}]]\n" for _ in range(self.rng.randint(2, 8))]
        return "".join(parts)

    def page(self, number: int) -> Page:
        roll = self.rng.random()
        stamp = f"2018-0{self.rng.randint(1, 9)}-{self.rng.randint(10, 28)}T1{self.rng.randint(0, 9)}:04:05Z"
        title = f"{self.title()} {number}"
        if roll < 0.01:
            return Page(title, 0, False, stamp, self.article(title, book=True))
        if roll < 0.30:
            text = f"#REDIRECT [[{self.rng.choice(self.titles)}]]\n\n{{{{R from alternative name}}}}"
            return Page(title, 0, True, stamp, text)
        if roll < 0.40:
            namespace, prefix = self.rng.choice(((4, "Wikipedia:"), (10, "Template:"), (14, "Category:"), (6, "File:")))
            return Page(prefix + title, namespace, False, stamp, self.sentence() + "\n" + self.sentence(3))
        return Page(title, 0, False, stamp, self.article(title, book=False))


def make_dump(directory: Path, pages: int, partitions: int, seed: int) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    per_file = math.ceil(pages / partitions)
    for part in range(partitions):
        path = (
            directory / f"enwiki-bench-pages-articles{part + 1}.xml-p{part * per_file + 1}p{(part + 1) * per_file}.bz2"
        )
        if not path.exists():
            maker = PageMaker(seed * 100 + part)
            partial = path.with_suffix(".partial.bz2")
            write_dump(partial, (maker.page(part * per_file + n) for n in range(per_file)))
            partial.replace(path)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------------- the original way
class WikiXmlHandler(xml.sax.handler.ContentHandler):
    """The original notebook's SAX handler: buffers title/text/timestamp, processes every page."""

    def __init__(self) -> None:
        super().__init__()
        self._buffer: list[str] = []
        self._values: dict[str, str] = {}
        self._current_tag: str | None = None
        self._books: list[tuple] = []
        self._article_count = 0

    def characters(self, content: str) -> None:
        if self._current_tag:
            self._buffer.append(content)

    def startElement(self, name: str, attrs) -> None:  # SAX's names
        if name in ("title", "text", "timestamp"):
            self._current_tag = name
            self._buffer = []

    def endElement(self, name: str) -> None:
        if name == self._current_tag:
            self._values[name] = " ".join(self._buffer)
        if name == "page":
            self._article_count += 1
            book = process_article(**self._values, template="infobox book")
            if book:
                self._books.append(book)


def process_article(title: str, text: str, timestamp: str, template: str = "Infobox film") -> tuple | None:
    wikicode = mwparserfromhell.parse(text)
    matches = wikicode.filter_templates(matches=template)
    matches = [x for x in matches if x.name.strip_code().strip().lower() == template.lower()]
    if len(matches) >= 1:
        properties = {
            param.name.strip_code().strip(): param.value.strip_code().strip()
            for param in matches[0].params
            if param.value.strip_code().strip()
        }
        wikilinks = [x.title.strip_code().strip() for x in wikicode.filter_wikilinks()]
        exlinks = [x.url.strip_code().strip() for x in wikicode.filter_external_links()]
        text_length = len(wikicode.strip_code().strip())
        return (title, properties, wikilinks, exlinks, timestamp, text_length)
    return None


def original_way(path: Path) -> tuple[int, int]:
    handler = WikiXmlHandler()
    parser = xml.sax.make_parser()
    parser.setContentHandler(handler)
    with open(path, "rb") as source:
        bzcat = subprocess.Popen(["bzcat"], stdin=source, stdout=subprocess.PIPE)
        for line in bzcat.stdout:
            parser.feed(line)
        bzcat.wait()
    return handler._article_count, len(handler._books)


# ------------------------------------------------------------------------------------------------ measuring
def measure_original(paths: list[Path]) -> tuple[float, int, int]:
    started = time.perf_counter()
    pages = books = 0
    for path in paths:
        p, b = original_way(path)
        pages, books = pages + p, books + b
    return time.perf_counter() - started, pages, books


def measure_ours(paths: list[Path], processes: int, one_core: bool = False) -> tuple[float, int, int]:
    """one_core: pinned to a single CPU (sched_setaffinity)."""
    out = Path(tempfile.mkdtemp(prefix="dump-out-"))
    cpus = os.sched_getaffinity(0)
    try:
        if one_core:
            os.sched_setaffinity(0, {min(cpus)})  # threads started from here on inherit it
        started = time.perf_counter()
        results = parse_files(paths, out, processes=processes, show_progress=False)
        seconds = time.perf_counter() - started
    finally:
        os.sched_setaffinity(0, cpus)
        shutil.rmtree(out)
    assert all(isinstance(r, FileResult) and not r.skipped for r in results), results
    return seconds, sum(r.pages for r in results), sum(r.books for r in results)


def measure_decompression(paths: list[Path], decoder: str) -> tuple[float, int, int]:
    """The floor of any parser reading bz2 with this decoder: decompressing (as wikidump calls it), nothing else."""
    started = time.perf_counter()
    for path in paths:
        for _ in read_chunks(path, decoder=decoder):
            pass
    return time.perf_counter() - started, 0, 0


def profile(directory: Path, seed: int) -> None:
    """CPU seconds of each stage on one 4,000-page partition (CPU time, so other processes matter less)."""
    from recommender.catalogue.wikidump.books import may_be_book, parse_book, parse_book_tree, raw_marks
    from recommender.catalogue.wikidump.reader import PageStream

    (path,) = make_dump(directory / "profile", 4000, 1, seed + 2)

    def cpu(work) -> tuple[float, object]:
        started = time.process_time()
        value = work()
        return time.process_time() - started, value

    decompress, _ = cpu(lambda: measure_decompression([path]))
    every, pages = cpu(lambda: list(PageStream(path)))  # expat on every page, as before the raw scan
    stream = PageStream(path, marks=raw_marks)
    scan, parsed = cpu(lambda: list(stream))
    prefilter, candidates = cpu(lambda: [p for p in parsed if may_be_book(p)])
    parse, _ = cpu(lambda: [parse_book(p) for p in candidates])
    tree, _ = cpu(lambda: [parse_book_tree(p) for p in candidates])
    original_xml, _ = cpu(lambda: sax_only(path))
    original_parse, _ = cpu(lambda: [process_article(p.title, p.text, p.timestamp, "infobox book") for p in pages])
    total = scan + prefilter + parse
    print(f"profile of {stream.seen:,} pages ({path.stat().st_size / 1e6:.1f} MB compressed), CPU seconds:")
    print(f"  bz2 decompression alone              {decompress:6.2f}  {decompress / total:4.0%} of wikidump")
    scan_only = scan - decompress
    print(f"  raw scan, expat on {len(parsed):>4} pages      {scan_only:6.2f}  {scan_only / total:4.0%}")
    print(f"  (before it: expat on every page      {every - decompress:6.2f})")
    print(f"  pre-filter on the parsed pages       {prefilter:6.2f}  {prefilter / total:4.0%}")
    print(f"  mwparserfromhell on {len(candidates):>4} candidates {parse:6.2f}  {parse / total:4.0%}")
    print(
        f"  (through its node tree instead       {tree:6.2f}, {tree / parse:.1f}x; {fallbacks(candidates)} to the tree)"
    )
    print(f"  wikidump in all                      {total:6.2f}  {total / decompress:.2f}x the decompression floor")
    print(f"  original: SAX alone                  {original_xml:6.2f}  (bzcat, in its own process, not counted)")
    print(f"  original: mwparserfromhell on every page {original_parse:.2f}")
    original = original_xml + original_parse
    print(f"  original in all: {original:.2f}, {original / total:.1f}x wikidump")


def fallbacks(pages: list[Page]) -> str:
    """How many pages the token walk hands to the tree path (books.parse_book), of how many."""
    from recommender.catalogue.wikidump.books import parse_book_tokens
    from recommender.catalogue.wikidump.tokenwalk import Unsupported

    count = 0
    for page in pages:
        try:
            parse_book_tokens(page)
        except (Unsupported, LookupError, ValueError):
            count += 1
    return f"{count} of {len(pages)} pages went"


def sax_only(path: Path) -> int:
    """The original's SAX pass without mwparserfromhell: its XML cost."""
    handler = WikiXmlHandler()
    handler.endElement = lambda name: None  # type: ignore[method-assign]
    parser = xml.sax.make_parser()
    parser.setContentHandler(handler)
    with open(path, "rb") as source:
        bzcat = subprocess.Popen(["bzcat"], stdin=source, stdout=subprocess.PIPE)
        for line in bzcat.stdout:
            parser.feed(line)
        bzcat.wait()
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=50_000)
    parser.add_argument("--partitions", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="keep the generated dump here (and reuse it next time)")
    parser.add_argument("--profile", action="store_true", help="CPU seconds per stage on a 4,000-page file")
    parser.add_argument("--generate-only", action="store_true", help="make the dump (with --keep) and stop")
    args = parser.parse_args()

    directory = args.keep or Path(tempfile.mkdtemp(prefix="dump-bench-"))
    if args.profile:
        try:
            profile(directory, args.seed)
        finally:
            if args.keep is None:
                shutil.rmtree(directory)
        return
    started = time.perf_counter()
    paths = make_dump(directory / f"{args.pages}-{args.seed}", args.pages, args.partitions, args.seed)
    warmup = make_dump(directory / "warmup", 400, 2, args.seed + 1)
    compressed = sum(p.stat().st_size for p in paths)
    if args.generate_only:
        print(f"dump ready in {paths[0].parent}: {compressed / 1e6:.1f} MB compressed")
        return
    print(
        f"dump: {args.pages:,} pages in {len(paths)} bz2 partitions, {compressed / 1e6:.1f} MB compressed "
        f"(made in {time.perf_counter() - started:.0f} s)"
    )
    decoder = SEVEN_ZIP if seven_zip() is not None else "libbz2"
    print(f"wikidump decodes bz2 with {decoder} (settings.WIKIDUMP_BZIP2; streams.py)")
    try:
        measure_original(warmup), measure_ours(warmup, 1), measure_ours(warmup, 2)
        rows = [
            ("original: bzcat | SAX, mwparserfromhell on every page", *measure_original(paths)),
            ("wikidump, 1 process (unpinned)", *measure_ours(paths, 1)),
            ("wikidump, 1 process pinned to one core", *measure_ours(paths, 1, one_core=True)),
            (f"wikidump, {args.partitions} processes", *measure_ours(paths, args.partitions)),
            ("floor: libbz2 decompression alone, 1 thread", *measure_decompression(paths, "libbz2")),
        ]
        if decoder == SEVEN_ZIP:
            rows.append(("floor: 7-Zip's decoder alone (7zz), 1 thread", *measure_decompression(paths, SEVEN_ZIP)))
    finally:
        if args.keep is None:
            shutil.rmtree(directory)

    print(f"{'way':<58} {'pages':>8} {'books':>6} {'seconds':>8} {'pages/s':>9} {'MB/s':>6} {'x orig':>7}")
    base = rows[0][2] / rows[0][1]
    for name, seconds, pages, books in rows:
        pages = pages or rows[0][2]  # the floor reads the same pages without counting them
        rate = pages / seconds
        print(
            f"{name:<58} {pages:>8,} {books:>6,} {seconds:>8.1f} {rate:>9,.0f} {compressed / 1e6 / seconds:>6.2f}"
            f" {rate / base:>6.1f}x"
        )
    original, free, pinned, parallel, floor = (row[1] for row in rows[:5])
    if decoder == SEVEN_ZIP:
        floor = rows[5][1]
    cores = len(os.sched_getaffinity(0))
    print(f"1 process takes {free / floor:.2f}x the time of its decoder alone ({decoder}'s floor row)")
    for name, seconds in (("1 process, unpinned", free), ("1 process pinned to one core", pinned)):
        speedup = original / seconds
        print(
            f"{'MEETS' if speedup >= SPEEDUP_TARGET else 'MISSES'}: {name} is {speedup:.1f}x the original "
            f"(target >= {SPEEDUP_TARGET:.0f}x)"
        )
    # Per core: N processes on N cores against one process on one core. One unpinned process already
    # spends part of a second core on decompression, so against it N processes can gain less.
    scaling = pinned / parallel
    print(
        f"{'MEETS' if scaling >= SCALING_TARGET else 'MISSES'}: {args.partitions} processes are {scaling:.2f}x "
        f"1 process pinned to one core, on {cores} cores (target >= {SCALING_TARGET}x, near-linear); "
        f"{free / parallel:.2f}x 1 unpinned process"
    )


if __name__ == "__main__":
    main()
