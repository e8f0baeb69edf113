from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "recommender.api"
    label = "api"
    verbose_name = "JSON API"
