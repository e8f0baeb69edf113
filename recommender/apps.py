from django.apps import AppConfig


class RecommenderConfig(AppConfig):
    name = "recommender"

    def ready(self) -> None:
        # Load the Celery app whenever Django starts, so that @shared_task binds to it. Not in the package's
        # __init__: processes that import a part of the package without Django (the dump parser's children,
        # recommender/catalogue/wikidump/parallel.py) would pay for Celery's import at every start.
        import recommender.celery  # noqa: F401
