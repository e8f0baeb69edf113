"""python manage.py import_goodbooks DIR [--strict] [--replace]"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recommender.catalogue.importer import Importer, ImportRefused
from recommender.catalogue.models import Source
from recommender.catalogue.sources import read_goodbooks
from recommender.catalogue.textfiles import UnreadableFile


class Command(BaseCommand):
    help = "Import goodbooks-10k (books.csv, tags.csv, book_tags.csv): tags, less shelf tags, become links."

    def add_arguments(self, parser) -> None:
        parser.add_argument("directory", help="folder holding books.csv, tags.csv and book_tags.csv")
        parser.add_argument("--strict", action="store_true", help="abort on the first bad line, writing nothing")
        parser.add_argument("--replace", action="store_true", help="replace a catalogue from another source")

    def handle(self, *args, **options) -> None:
        directory = Path(options["directory"])
        importer = Importer(
            Source.GOODREADS, strict=options["strict"], replace=options["replace"], report=self.stderr.write
        )
        try:
            rows = importer.collect(read_goodbooks(directory))
            summary = importer.write(rows)
        except (ImportRefused, FileNotFoundError, UnreadableFile) as exc:  # before the first write: nothing changed
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Imported {directory}\n{summary}"))
