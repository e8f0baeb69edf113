import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "recommender.settings")
django_application = get_wsgi_application()

from django.conf import settings  # noqa: E402

from embeddings.search import one_blas_thread  # noqa: E402
from embeddings.serving import get_active  # noqa: E402
from recommender.api.caching import LocalAnswerCache  # noqa: E402  (needs the settings above)
from recommender.api.fast_path import FastPath  # noqa: E402
from recommender.catalogue.snapshot import holder  # noqa: E402
from recommender.local_dirs import create_local_dirs  # noqa: E402

create_local_dirs()
# A search's products run in the request's thread: the other cores are the other web threads' (embeddings/search.py).
one_blas_thread()
# Start reading the catalogue into memory now (a background thread), so that uncached answers need no database trip.
holder.get(get_active(settings.ARTIFACTS_DIR))

# Hot recommendation answers are replayed before Django is entered (see recommender/api/caching.py); plain `similar`
# and `recommend` requests the LRU does not hold are answered from memory with Django's headers
# (recommender/api/fast_path.py), and their answers kept in the LRU as Django's are.
application = LocalAnswerCache(FastPath(django_application) if settings.API_FAST_PATH else django_application)
