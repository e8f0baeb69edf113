"""python manage.py export_projector VERSION --out DIR: Embedding Projector files of a version's books and links."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recommender.librarian import export


class Command(BaseCommand):
    help = (
        "Write vectors.tsv, metadata.tsv and projector_config.json of a model version under DIR/books/ and "
        "DIR/links/, plus DIR/projector_config.json naming both (load them at projector.tensorflow.org)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("version", help="a version id (see `manage.py activate --list`)")
        parser.add_argument("--out", required=True, type=Path, help="folder to write into (created if missing)")

    def handle(self, *args, **options) -> None:
        try:
            folder = export.version_folder(options["version"])
        except export.ExportError as exc:
            raise CommandError(str(exc)) from None
        out = options["out"]
        if out.exists() and not out.is_dir():
            raise CommandError(f"{out} exists and is not a folder")
        for path in export.export_to(folder, out):
            self.stdout.write(f"wrote {path} ({path.stat().st_size:,} bytes)")
