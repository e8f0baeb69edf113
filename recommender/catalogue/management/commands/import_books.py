"""python manage.py import_books PATH [PATH ...] [--info book_info.tsv] [--include-unlinked] [--strict] [--replace]"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recommender.catalogue.importer import Importer, ImportRefused
from recommender.catalogue.models import Source
from recommender.catalogue.sources import expand_paths, read_book_info, read_wikipedia
from recommender.catalogue.textfiles import UnreadableFile


class Command(BaseCommand):
    help = (
        "Import Wikipedia book articles (ndjson: [title, infobox, wikilinks, ...] per line; .gz and .bz2 too) into "
        "the catalogue."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="+", help="ndjson files (.gz, .bz2), directories of them, or globs")
        parser.add_argument("--info", help="book_info.tsv whose metadata fills empty columns, matched by title")
        parser.add_argument(
            "--include-unlinked", action="store_true", help="also add the --info books that have no links"
        )
        parser.add_argument("--strict", action="store_true", help="abort on the first bad line, writing nothing")
        parser.add_argument("--replace", action="store_true", help="replace a catalogue from another source")

    def handle(self, *args, **options) -> None:
        try:
            files = expand_paths(options["paths"])
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from None
        ndjson = [f for f in files if f.suffix != ".tsv"]
        info = Path(options["info"]) if options["info"] else None
        if info is None:  # a directory brings its own book_info.tsv
            for raw in options["paths"]:
                candidate = Path(raw) / "book_info.tsv"
                if Path(raw).is_dir() and candidate.is_file():
                    info = candidate
        if info is not None and not info.is_file():
            raise CommandError(f"{info}: no such file")
        if not ndjson:
            raise CommandError("no ndjson files found in " + ", ".join(options["paths"]))

        importer = Importer(Source.WIKIPEDIA, strict=options["strict"], replace=options["replace"], report=self._warn)
        try:
            rows = importer.collect(record for path in ndjson for record in read_wikipedia(path))
            if info is not None:
                for bad in importer.merge_info(rows, read_book_info(info), options["include_unlinked"]):
                    if options["strict"]:
                        raise ImportRefused(f"{bad} (--strict: nothing was written)")
                    self._warn(f"skipped {bad}")
            summary = importer.write(rows)
        except (ImportRefused, UnreadableFile) as exc:  # both before the first write: nothing changed
            raise CommandError(str(exc)) from None
        sources = ", ".join(str(f) for f in ndjson) + (f" + {info}" if info else "")
        self.stdout.write(self.style.SUCCESS(f"Imported {sources}\n{summary}"))

    def _warn(self, message: str) -> None:
        self.stderr.write(message)
