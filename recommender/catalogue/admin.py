from django.contrib import admin

from recommender.catalogue.models import Book, BookLink, Link
from recommender.fold_ins import queue_books


class BookLinkInline(admin.TabularInline):
    model = BookLink
    raw_id_fields = ["link"]
    extra = 0


@admin.register(Book)
class BookAdmin(admin.ModelAdmin):
    list_display = ["title", "author", "genre", "country", "source", "has_links"]
    list_filter = ["source", "has_links", "country"]
    search_fields = ["title", "author", "search_text"]
    inlines = [BookLinkInline]

    def save_related(self, request, form, formsets, change: bool) -> None:
        """A new book, or one whose links changed, is folded into the active version by a worker."""
        super().save_related(request, form, formsets, change)
        if not change or any(formset.has_changed() for formset in formsets):
            message = queue_books([form.instance.pk])
            if message:
                self.message_user(request, f"{form.instance}: {message}.")

    def delete_model(self, request, obj: Book) -> None:
        book_id = obj.pk
        super().delete_model(request, obj)
        queue_books([book_id])  # takes it out of the overlay

    def delete_queryset(self, request, queryset) -> None:
        ids = list(queryset.values_list("id", flat=True))
        super().delete_queryset(request, queryset)
        queue_books(ids)


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ["name", "book_count"]
    search_fields = ["name"]
    ordering = ["-book_count"]
