"""python manage.py project_version [VERSION | --all-missing]: add the map (UMAP projection) to trained versions."""

import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from embeddings import mapping


class Command(BaseCommand):
    help = "Compute the 2-D map of a version trained before maps existed (or of every version without one)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("version", nargs="?", help="version id (python manage.py activate --list)")
        parser.add_argument("--all-missing", action="store_true", help="every version that has no map yet")

    def handle(self, *args, **options) -> None:
        if bool(options["version"]) == bool(options["all_missing"]):
            raise CommandError("give either a VERSION or --all-missing")
        if options["all_missing"]:
            version_ids = [version.version_id for version in mapping.versions_missing_a_map()]
            if not version_ids:
                self.stdout.write("every version has a map")
        else:
            version_ids = [options["version"]]
        for version_id in version_ids:
            with tqdm(total=2, desc=version_id, unit="map", disable=None, file=sys.stderr) as bar:

                def progress(info: dict, bar=bar) -> None:
                    bar.n = info.get("step", 0)
                    bar.refresh()

                try:
                    info = mapping.project_version(version_id, progress)
                except mapping.MapError as exc:
                    raise CommandError(str(exc)) from None
            books, links = info["books"], info["links"]
            self.stdout.write(
                self.style.SUCCESS(
                    f"{version_id}: map of {books['points']} books (faithfulness@10 {_score(books)}) "
                    f"and {links['points']} links (faithfulness@10 {_score(links)})"
                )
            )


def _score(part: dict) -> str:
    value = part.get("faithfulness@10")
    return "n/a" if value is None else f"{value:.3f}"
