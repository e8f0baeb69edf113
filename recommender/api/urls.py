from django.urls import path, re_path

from recommender.api import views

app_name = "api"
urlpatterns = [
    path("books/", views.search_books, name="books"),
    path("books/<int:book_id>/", views.show_book, name="book"),
    path("books/<int:book_id>/similar/", views.similar_books, name="similar-books"),
    path("links/", views.search_links, name="links"),
    path("links/<int:link_id>/similar/", views.similar_links, name="similar-links"),
    path("links/<int:link_id>/books/", views.books_for_link, name="link-books"),
    path("recommend/", views.recommend, name="recommend"),
    path("schema/", views.schema, name="schema"),
    path("widget/", views.widget_settings, name="widget"),
    re_path(r"^[\s\S]*$", views.not_found),  # [\s\S]: also paths holding a newline (%0A)
]
