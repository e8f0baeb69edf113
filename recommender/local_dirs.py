"""Creating the local folders a process needs (settings.LOCAL_DIRS), so that importing settings creates nothing.

Called by manage.py (every command, `make run` included), wsgi.py, the Celery worker at start and the tests.
"""

from pathlib import Path

from django.conf import settings


def create_local_dirs() -> None:
    for folder in settings.LOCAL_DIRS:
        Path(folder).mkdir(parents=True, exist_ok=True)
