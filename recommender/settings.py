"""Settings for the book recommender, every one of them read from the environment.

| variable        | default                                    |
| --------------- | ------------------------------------------ |
| DEBUG           | off                                        |
| SECRET_KEY      | var/secret_key if present; else required when DEBUG is off |
| ALLOWED_HOSTS   | localhost,127.0.0.1 (comma-separated)      |
| DATABASE_URL    | SQLite file var/db.sqlite3                 |
| REDIS_URL       | unset: file-based Celery broker, local cache |
| BOOKS_DATA      | unset (files, a directory or a glob)       |
| ARTIFACTS_DIR   | var/artifacts                              |
| ANSWER_CACHE_SECONDS | 600 (0 turns the answer cache off)    |
| CATALOGUE_SNAPSHOT_SECONDS | 600 (age of the in-memory catalogue; 0: off) |
| API_FAST_PATH   | on (plain `similar`/`recommend` answered before Django) |
| NUMBA_CACHE_DIR | var/numba (UMAP's compiled kernels, workers only) |
| MAP_N_NEIGHBORS, MAP_MIN_DIST | 15, 0.1 (UMAP of the map)        |
| RETRAIN_SCHEDULE | unset: off; a crontab or an interval (6h) |
| TRAINING_STALE_SECONDS | 90 (a run silent this long is failed) |
| HTTPS           | off (on: https redirect, secure cookies, HSTS) |
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool = False) -> bool:
    """True/false from the environment; any other word is an error rather than a silent False."""
    value = os.environ.get(name, "").strip().lower()
    if value == "":
        return default
    if value not in TRUE_WORDS | FALSE_WORDS:
        allowed = "/".join(sorted(TRUE_WORDS)) + " or " + "/".join(sorted(FALSE_WORDS))
        raise ImproperlyConfigured(f"{name}={os.environ[name]!r} is not a boolean: use {allowed}")
    return value in TRUE_WORDS


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))

DEBUG = env_bool("DEBUG")
# SECRET_KEY, else the key `make run` generated into var/secret_key, so that manage.py commands share it.
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY and (VAR_DIR / "secret_key").is_file():
    SECRET_KEY = (VAR_DIR / "secret_key").read_text().strip()
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off (export SECRET_KEY=..., or run `make run` once, "
            "which generates var/secret_key)."
        )
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

BOOKS_DATA = os.environ.get("BOOKS_DATA", "")
# Who decodes bz2 dumps for parse_wikipedia_dump (recommender/catalogue/wikidump/streams.py): "auto" (7-Zip's `7zz`
# when installed, about a fifth less CPU; else libbz2), "7zz" or "libbz2".
WIKIDUMP_BZIP2 = os.environ.get("WIKIDUMP_BZIP2", "auto").strip().lower() or "auto"
if WIKIDUMP_BZIP2 not in ("auto", "7zz", "libbz2"):
    raise ImproperlyConfigured(f"WIKIDUMP_BZIP2={WIKIDUMP_BZIP2!r}: use auto, 7zz or libbz2")
# How long recommendation answers stay cached (per model version, so a new version is seen at once); 0: off.
ANSWER_CACHE_SECONDS = int(os.environ.get("ANSWER_CACHE_SECONDS", "600"))
# How old each web process's in-memory copy of the catalogue (recommender/catalogue/snapshot.py) may get before it
# is rebuilt: the bound on how long another process's catalogue edit stays unseen by uncached answers; 0: off.
CATALOGUE_SNAPSHOT_SECONDS = int(os.environ.get("CATALOGUE_SNAPSHOT_SECONDS", "600"))
# Plain `similar` and `recommend` requests answered from memory in front of Django, with Django's headers
# (recommender/api/fast_path.py); off: every request goes through Django.
API_FAST_PATH = env_bool("API_FAST_PATH", True)
ARTIFACTS_DIR = Path(os.environ.get("ARTIFACTS_DIR", VAR_DIR / "artifacts"))
# What training reads the catalogue through (embeddings never imports recommender): () -> (books, pairs) frames.
TRAINING_FRAMES_LOADER = "recommender.catalogue.frames.load_frames"
# What fold-in reads a few books' links through: (book ids) -> {book id: [link ids]} of the books that exist.
FOLD_IN_LINKS_LOADER = "recommender.catalogue.frames.load_book_links"
# ... and their author and series, which give folded books the served ranking's groups: (ids) -> {id: (a, s)}.
FOLD_IN_LABELS_LOADER = "recommender.catalogue.frames.load_book_labels"
# The map (embeddings/projection.py): numba's JIT cache, so UMAP compiles once per machine, and UMAP's settings.
NUMBA_CACHE_DIR = Path(os.environ.get("NUMBA_CACHE_DIR", VAR_DIR / "numba"))
MAP_N_NEIGHBORS = int(os.environ.get("MAP_N_NEIGHBORS", "15"))
MAP_MIN_DIST = float(os.environ.get("MAP_MIN_DIST", "0.1"))
# Periodic retraining with celery beat: a crontab ("0 3 * * 0") or an interval ("6h"); off when empty.
RETRAIN_SCHEDULE = os.environ.get("RETRAIN_SCHEDULE", "").strip()

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "csp",
    "recommender",
    "recommender.catalogue",
    "recommender.front",
    "recommender.api",
    "recommender.librarian",
    "recommender.map",
    "embeddings",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files answer here, before the headers below
    "recommender.content_security.SecurityHeadersMiddleware",
    "recommender.content_security.CachedPolicyMiddleware",  # django-csp's, each policy built once
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "recommender.hostile.RejectControlCharactersMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last, so it sees a view's database errors first: 503 JSON while the database is unreachable
    "recommender.unavailable.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "recommender.urls"
WSGI_APPLICATION = "recommender.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "recommender.front.context.train_command",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=60,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Separate processes (web, worker) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 30, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # Tests use a file so that a worker process can see the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_db.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A server that is down or restarting fails the request in seconds (503, recommender/unavailable.py).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 2)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    # Redis down: the cache misses and drops writes within a quarter second, then skips Redis for a few
    # seconds (recommender/resilient_cache.py); a queued training run is refused after one quick retry.
    CACHES = {
        "default": {
            "BACKEND": "recommender.resilient_cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 1}
    CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.5}
    # the result store subscribes when a task is sent: its default (20 retries, 1 s apart) would hang the request
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
        "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.5, "interval_max": 0.5}
    }
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 1
else:
    # No services at all: Celery passes messages through files under var/celery.
    CELERY_DIR = VAR_DIR / "celery"
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DIR / "queue"),
        "data_folder_out": str(CELERY_DIR / "queue"),
        "control_folder": str(CELERY_DIR / "control"),
        "processed_folder": str(CELERY_DIR / "processed"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{CELERY_DIR / 'results'}"
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# HTTPS=1 in production (behind a proxy that terminates TLS and sets X-Forwarded-Proto): redirect to https,
# secure-only cookies, HSTS for a year. /healthz stays reachable over plain http for load balancers.
HTTPS = env_bool("HTTPS")
if HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 365 * 24 * 3600
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Content-Security-Policy (django-csp): scripts and everything they fetch come from this site only, and no inline
# script or event handler runs, so HTML that slips into a title could not run even if a template forgot to escape it.
# Per-route changes live in recommender/content_security.py: the widget's iframe may be framed by any site, and the
# pages that draw with plotly's WebGL (regl compiles its draw calls with Function()) add 'unsafe-eval'.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        # 'unsafe-inline' for styles only: plotly writes style attributes and <style> rules as it draws, and the
        # pages size similarity bars and tint placeholder covers with style attributes. Styles cannot run code.
        "style-src": [SELF, UNSAFE_INLINE],
        # Covers: Goodreads (goodbooks) and Wikipedia's Special:FilePath, which redirects to upload.wikimedia.org;
        # data: and blob: for plotly's exported images.
        "img-src": [
            SELF,
            "data:",
            "blob:",
            "https://en.wikipedia.org",
            "https://upload.wikimedia.org",
            "https://images.gr-assets.com",
            "https://s.gr-assets.com",
        ],
        "connect-src": [SELF],
        "font-src": [SELF],
        "frame-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],  # as X-Frame-Options: DENY; the widget's iframe route allows any site
    }
}
# Browser features no page uses, turned off for this site and anything it frames.
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# Seconds without a heartbeat after which a running training run counts as lost (its worker died).
TRAINING_STALE_SECONDS = float(os.environ.get("TRAINING_STALE_SECONDS", "90"))

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
# WhiteNoise serves static/ straight from the finders, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True

# GET endpoints of the JSON API may be called from other sites (the widget).
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_METHODS = ("GET", "OPTIONS", "POST")

# Folders processes need; importing settings creates none: manage.py, wsgi.py, the worker and the tests create them
# (recommender/local_dirs.py).
LOCAL_DIRS = [VAR_DIR, STATIC_ROOT]
if not REDIS_URL:
    LOCAL_DIRS += [CELERY_DIR / sub for sub in ("queue", "processed", "results", "control")]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
