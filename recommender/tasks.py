"""Tasks of the project itself (the ML tasks live in embeddings/tasks.py)."""

import socket

from celery import shared_task
from django.db import connection

from recommender.catalogue.models import Book


@shared_task(name="recommender.ping")
def ping() -> dict:
    """A worker's self-check: it runs, reaches the database and reports the catalogue size."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"pong": True, "host": socket.gethostname(), "books": Book.objects.count()}
