from django.apps import AppConfig


class MapConfig(AppConfig):
    name = "recommender.map"
    label = "map"
    verbose_name = "The map of books and links"
