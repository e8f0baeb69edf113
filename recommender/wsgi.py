import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")
django_application = get_wsgi_application()

from recommender.api.caching import LocalAnswerCache  # noqa: E402  (needs the settings above)
from recommender.local_dirs import create_local_dirs  # noqa: E402

create_local_dirs()

# Hot recommendation answers are replayed before Django is entered (see recommender/api/caching.py).
application = LocalAnswerCache(django_application)
