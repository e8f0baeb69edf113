from django.urls import path

from recommender.map import views

app_name = "map"
urlpatterns = [
    path("map/", views.show_map, {"kind": "book"}, name="books"),
    path("map/links/", views.show_map, {"kind": "link"}, name="links"),
    path("map/data/books.json", views.map_data_view, {"kind": "book", "part": "points"}, name="books-data"),
    path("map/data/links.json", views.map_data_view, {"kind": "link", "part": "points"}, name="links-data"),
    path("map/data/books-names.json", views.map_data_view, {"kind": "book", "part": "names"}, name="books-names"),
    path("map/data/links-names.json", views.map_data_view, {"kind": "link", "part": "names"}, name="links-names"),
]
