"""python manage.py activate VERSION: serve an older (or newer) version again; --list shows them."""

from django.core.management.base import BaseCommand, CommandError

from embeddings.models import ModelVersion


class Command(BaseCommand):
    help = "Make a trained model version the active one (atomically), or list the versions."

    def add_arguments(self, parser) -> None:
        parser.add_argument("version", nargs="?", help="version id, as listed by --list")
        parser.add_argument("--list", action="store_true")

    def handle(self, *args, **options) -> None:
        if options["list"] or not options["version"]:
            for version in ModelVersion.objects.all():
                mark = "*" if version.is_active else " "
                self.stdout.write(f"{mark} {version.version_id}  {version.n_books} books  {version.n_links} links")
            return
        version = ModelVersion.objects.filter(version_id=options["version"]).first()
        if version is None:
            raise CommandError(f"no version {options['version']!r} (python manage.py activate --list)")
        if not version.path.is_dir():
            raise CommandError(f"version {version.version_id}: its folder {version.path} is missing")
        version.activate()
        self.stdout.write(self.style.SUCCESS(f"version {version.version_id} is active"))
