from django.apps import AppConfig


class LibrarianConfig(AppConfig):
    name = "recommender.librarian"
    label = "librarian"
    verbose_name = "Retraining"
