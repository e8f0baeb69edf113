"""python manage.py fold_in [BOOK ...]: vectors for new or edited books now, in this process (no worker needed)."""

from django.core.management.base import BaseCommand, CommandError

from embeddings.fold_in import FoldInUnavailable
from embeddings.folding import fold_books
from embeddings.models import FoldInStatus
from recommender.catalogue.models import Book, Link
from recommender.fold_ins import missing_book_ids
from recommender.management.commands.similar import find_book


class Command(BaseCommand):
    help = (
        "Fold books into the active model version: each gets a vector from its links with the version's link "
        "vectors frozen. BOOK is an id or a title; none: every linked book the version lacks and every pending one."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("books", nargs="*", metavar="BOOK", help="book ids or titles")

    def handle(self, *args, **options) -> None:
        ids = [self._book_id(text) for text in options["books"]] or missing_book_ids()
        if not ids:
            self.stdout.write("Nothing to fold in: the active version knows every linked book.")
            return
        try:
            records = fold_books(ids)
        except FoldInUnavailable as exc:
            raise CommandError(str(exc)) from None
        titles = dict(Book.objects.filter(pk__in=ids).values_list("id", "title"))
        for record in records:
            line = f"{record.book_id:>8}  {titles.get(record.book_id, '?')}: {record.get_status_display()}"
            if record.status == FoldInStatus.FOLDED:
                line += f" from {record.n_links} links in {1000 * (record.seconds or 0):.1f} ms"
            self.stdout.write(line)
            if record.unknown_link_ids:
                names = (
                    Link.objects.filter(pk__in=record.unknown_link_ids).order_by("name").values_list("name", flat=True)
                )
                self.stdout.write(f"          ignored (unknown to the version): {', '.join(names)}")
        gone = sorted(set(ids) - {r.book_id for r in records})
        if gone:
            self.stdout.write(f"Removed from the overlay (no longer in the catalogue): {', '.join(map(str, gone))}")
        folded = sum(r.status == FoldInStatus.FOLDED for r in records)
        self.stdout.write(self.style.SUCCESS(f"{folded} of {len(ids)} book(s) folded in."))

    @staticmethod
    def _book_id(text: str) -> int:
        if text.isdigit():
            if not Book.objects.filter(pk=int(text)).exists():
                raise CommandError(f"no book with id {text}")
            return int(text)
        return find_book(text).pk
