from django.contrib import admin

from recommender.catalogue.models import Book, BookLink, Link


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


@admin.register(Link)
class LinkAdmin(admin.ModelAdmin):
    list_display = ["name", "book_count"]
    search_fields = ["name"]
    ordering = ["-book_count"]
