from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "recommender.catalogue"
    label = "catalogue"
    verbose_name = "Book catalogue"
