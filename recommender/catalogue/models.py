"""The book catalogue: books, the links (Wikipedia wikilinks or Goodreads tags) and which book has which."""

from urllib.parse import quote

from django.db import models

from recommender.catalogue.covers import cover_url
from recommender.catalogue.text import search_key


class Source(models.TextChoices):
    WIKIPEDIA = "wikipedia", "Wikipedia"
    GOODREADS = "goodreads", "Goodreads"


class BookQuerySet(models.QuerySet):
    def search(self, query: str) -> "BookQuerySet":
        """Books whose title or author contains every word of the query, ignoring case and accents."""
        qs = self
        for word in search_key(query).split():
            qs = qs.filter(search_text__contains=word)
        return qs

    def ranked_search(self, query: str) -> "BookQuerySet":
        """search() with exact titles first, then titles starting with the query, then the rest by title."""
        key = search_key(query).strip()
        rank = models.Case(
            models.When(title_key=key, then=models.Value(0)),
            models.When(title_key__startswith=key, then=models.Value(1)),
            default=models.Value(2),
        )
        return self.search(query).annotate(rank=rank).order_by("rank", "title")

    def linked(self) -> "BookQuerySet":
        return self.filter(has_links=True)


class Book(models.Model):
    title = models.CharField(max_length=500, unique=True)
    author = models.CharField(max_length=500, blank=True)
    genre = models.CharField(max_length=500, blank=True)
    country = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=200, blank=True)
    publisher = models.CharField(max_length=500, blank=True)
    pages = models.CharField(max_length=200, blank=True, help_text="As written, e.g. '320 pp.'")
    published = models.CharField(max_length=200, blank=True, help_text="Publication date as written")
    infobox = models.JSONField(default=dict, blank=True)
    # Derived from the title (Goodreads) or the infobox (Wikipedia) by catalogue/series.py after each import.
    series = models.CharField(max_length=500, blank=True, editable=False, help_text="Normalised series name")
    cover_url = models.URLField(max_length=500, blank=True)
    average_rating = models.FloatField(null=True, blank=True)
    external_id = models.CharField(max_length=50, blank=True, help_text="Goodreads book id")
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.WIKIPEDIA)
    imported_from = models.CharField(max_length=500, blank=True, help_text="file:line of the record")
    has_links = models.BooleanField(default=True, help_text="False for books known only from book_info.tsv")
    search_text = models.TextField(blank=True, editable=False, help_text="search_key of title and author")
    title_key = models.CharField(max_length=500, blank=True, editable=False, db_index=True)
    links = models.ManyToManyField("Link", through="BookLink", related_name="books")

    objects = BookQuerySet.as_manager()

    class Meta:
        ordering = ["title"]
        indexes = [models.Index(fields=["source"]), models.Index(fields=["author"])]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        self.search_text = search_key(self.title, self.author)
        self.title_key = search_key(self.title)
        super().save(*args, **kwargs)

    @property
    def wikipedia_url(self) -> str:
        return "https://en.wikipedia.org/wiki/" + quote(self.title.replace(" ", "_"), safe="_()',!:")

    def cover_image_url(self) -> str:
        """Goodreads' cover, else the image the Wikipedia infobox names; '' when there is none."""
        return cover_url(self.cover_url, self.infobox)

    def infobox_fields(self) -> list[tuple[str, str]]:
        """Infobox fields worth showing, as (label, plain text) pairs."""
        from recommender.catalogue.text import wiki_to_text

        hidden = {"1", "name", "image", "caption", "image_caption", "italic title", "title_orig"}
        rows = []
        for key, value in self.infobox.items():
            text = wiki_to_text(value)
            if key not in hidden and text:
                rows.append((key.replace("_", " "), text))
        return rows

    def to_dict(self) -> dict:
        return {
            "id": self.pk,
            "title": self.title,
            "author": self.author,
            "genre": self.genre,
            "country": self.country,
            "language": self.language,
            "publisher": self.publisher,
            "pages": self.pages,
            "published": self.published,
            "cover_url": self.cover_image_url(),
            "average_rating": self.average_rating,
            "source": self.source,
            "wikipedia_url": self.wikipedia_url if self.source == Source.WIKIPEDIA else "",
        }


class LinkQuerySet(models.QuerySet):
    def ranked_search(self, query: str) -> "LinkQuerySet":
        """Links containing the query (names are lower-case already): exact, then prefix, then most used."""
        name = query.strip().lower()
        rank = models.Case(
            models.When(name=name, then=models.Value(0)),
            models.When(name__startswith=name, then=models.Value(1)),
            default=models.Value(2),
        )
        return self.filter(name__contains=name).annotate(rank=rank).order_by("rank", "-book_count", "name")


class Link(models.Model):
    name = models.CharField(max_length=500, unique=True, help_text="Lower-cased link target or tag")
    book_count = models.PositiveIntegerField(default=0, help_text="Books that use the link (after import)")

    objects = LinkQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def to_dict(self) -> dict:
        return {"id": self.pk, "name": self.name, "book_count": self.book_count}


class BookLink(models.Model):
    book = models.ForeignKey(Book, on_delete=models.CASCADE, related_name="book_links")
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="book_links")
    weight = models.PositiveIntegerField(default=1, help_text="Goodreads tag count; 1 for wikilinks")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["book", "link"], name="unique_book_link")]

    def __str__(self) -> str:
        return f"{self.book_id} -> {self.link_id}"
