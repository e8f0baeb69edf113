"""The Django project and its web face. The Celery app is loaded when Django starts (apps.py)."""
