from django.urls import path

from recommender.map import views

app_name = "map"
urlpatterns = [
    path("map/", views.show_map, {"kind": "book"}, name="books"),
    path("map/links/", views.show_map, {"kind": "link"}, name="links"),
    path("map/data/books.json", views.map_data_view, {"kind": "book"}, name="books-data"),
    path("map/data/links.json", views.map_data_view, {"kind": "link"}, name="links-data"),
]
