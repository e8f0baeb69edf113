"""python manage.py parse_wikipedia_dump FILE.xml.bz2 [FILE ...] --out DIR [--processes N] [--import [--replace]]"""

import os
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from recommender.catalogue.wikidump.files import FileResult, output_path
from recommender.catalogue.wikidump.parallel import FileFailure, parse_files


def check_sources(paths: list[str], out_dir: Path) -> list[Path]:
    """The dump files, each existing and each with its own output name; CommandError otherwise."""
    sources = [Path(p) for p in paths]
    missing = [str(s) for s in sources if not s.is_file()]
    if missing:
        raise CommandError(f"no such file: {', '.join(missing)}")
    outputs: dict[Path, Path] = {}
    for source in sources:
        target = output_path(source, out_dir)
        if target in outputs and outputs[target].resolve() != source.resolve():
            raise CommandError(f"{outputs[target]} and {source} would both be written to {target}")
        outputs[target] = source
    return list(dict.fromkeys(sources))


class Command(BaseCommand):
    help = (
        "Parse Wikipedia pages-articles dumps (MediaWiki XML, bz2) into one ndjson per file of the books "
        "(articles with an Infobox book), the format import_books reads. Finished files are skipped."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("files", nargs="+", help="dump files (*.xml.bz2, *.xml-p1p41242.bz2, or plain .xml)")
        parser.add_argument("--out", required=True, help="directory for the ndjson files")
        parser.add_argument(
            "--processes", type=int, default=1, help=f"files parsed at once (this machine has {os.cpu_count()} cores)"
        )
        parser.add_argument("--import", dest="do_import", action="store_true", help="then import_books the output")
        parser.add_argument(
            "--replace", action="store_true", help="with --import: replace a catalogue from another source"
        )

    def handle(self, *args, **options) -> None:
        if options["processes"] < 1:
            raise CommandError("--processes must be at least 1")
        out_dir = Path(options["out"])
        sources = check_sources(options["files"], out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        results = parse_files(sources, out_dir, processes=options["processes"])
        failures = [r for r in results if isinstance(r, FileFailure)]
        for result in results:
            if isinstance(result, FileResult):
                self.stdout.write(result.summary())
        if failures:
            raise CommandError(
                "\n".join(f.error for f in failures) + "\nNothing was written for these files; the others are complete."
            )
        parsed = [r for r in results if isinstance(r, FileResult)]
        books = sum(r.books for r in parsed if not r.skipped)
        self.stdout.write(self.style.SUCCESS(f"{len(parsed)} files ready in {out_dir} ({books:,} books newly found)"))
        if options["do_import"]:
            call_command(
                "import_books",
                *(r.output for r in parsed),
                replace=options["replace"],
                stdout=self.stdout,
                stderr=self.stderr,
            )
