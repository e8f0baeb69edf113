from django.apps import AppConfig


class FrontConfig(AppConfig):
    name = "recommender.front"
    label = "front"
    verbose_name = "Reader-facing pages and widget"
