from django.urls import path

from recommender.catalogue import views

app_name = "catalogue"
urlpatterns = [
    path("books/", views.list_books, name="list"),
    path("books/<int:book_id>/", views.show_book, name="detail"),
]
