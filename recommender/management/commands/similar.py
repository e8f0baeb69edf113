"""python manage.py similar "TITLE" [--k 10] [--json]"""

import difflib
import json

from django.core.management.base import BaseCommand, CommandError

from embeddings.serving import TRAIN_COMMAND, NoActiveVersion, UnknownId
from recommender import recommendations
from recommender.catalogue.models import Book


def find_book(title: str) -> Book:
    """The book with this title (exact, then ignoring case); otherwise an error naming the closest titles."""
    book = Book.objects.filter(title=title).first() or Book.objects.filter(title__iexact=title).first()
    if book is not None:
        return book
    titles = list(Book.objects.values_list("title", flat=True))
    close = difflib.get_close_matches(title, titles, n=5, cutoff=0.6)
    close += [t for t in Book.objects.search(title).values_list("title", flat=True)[:5] if t not in close]
    hint = ("; did you mean: " + "; ".join(close[:5])) if close else ""
    raise CommandError(f"no book titled {title!r}{hint}")


class Command(BaseCommand):
    help = "Print the books nearest to a book in the active model version, with cosine similarity."

    def add_arguments(self, parser) -> None:
        parser.add_argument("title")
        parser.add_argument("--k", type=int, default=10, help="how many books (1-100)")
        parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")

    def handle(self, *args, **options) -> None:
        if not 1 <= options["k"] <= 100:
            raise CommandError("--k must be between 1 and 100")
        book = find_book(options["title"])
        try:
            results = recommendations.similar_books(book.pk, options["k"])
        except NoActiveVersion:
            raise CommandError(f"no model version is active yet: train one with {TRAIN_COMMAND}") from None
        except UnknownId:
            raise CommandError(
                f"{book.title!r} has no vector in the active version (none of its links was kept)"
            ) from None
        if options["json"]:
            self.stdout.write(json.dumps([r.to_json() for r in results], ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"Books like {book.title!r}:")
        for rank, result in enumerate(results, start=1):
            author = f" ({result.author})" if result.author else ""
            self.stdout.write(f"{rank:>3}. {result.similarity:.3f}  {result.title}{author}")
