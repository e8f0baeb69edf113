"""Settings come from the environment with safe defaults; checked in fresh interpreters."""

import json
import os
import subprocess
import sys

from tests.helpers import ROOT

PROBE = """
import json
from django.conf import settings
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "broker": settings.CELERY_BROKER_URL,
    "results": settings.CELERY_RESULT_BACKEND,
    "cache": settings.CACHES["default"]["BACKEND"],
    "debug": settings.DEBUG,
    "hosts": settings.ALLOWED_HOSTS,
    "artifacts": str(settings.ARTIFACTS_DIR),
    "books_data": settings.BOOKS_DATA,
}))
"""
CLEARED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "BOOKS_DATA",
    "ARTIFACTS_DIR",
    "VAR_DIR",
)


def settings_with(env: dict[str, str], tmp_path) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    base.update({"DJANGO_SETTINGS_MODULE": "recommender.settings", "VAR_DIR": str(tmp_path / "var")}, **env)
    code = "import django; django.setup()\n" + PROBE
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True)


def test_defaults_need_no_services(tmp_path):
    result = settings_with({"SECRET_KEY": "k"}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "var").exists()  # importing settings creates no files or folders
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["db_name"] == str(tmp_path / "var" / "db.sqlite3")
    assert values["broker"] == "filesystem://"
    assert values["results"].startswith("file://")
    assert values["cache"].endswith("LocMemCache")
    assert values["debug"] is False
    assert "localhost" in values["hosts"]
    assert values["artifacts"] == str(tmp_path / "var" / "artifacts")


def test_services_from_environment(tmp_path):
    env = {
        "SECRET_KEY": "k",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/books",
        "REDIS_URL": "redis://127.0.0.1:6379/3",
        "ALLOWED_HOSTS": "books.example.org, www.example.org",
        "BOOKS_DATA": "/data/books",
        "ARTIFACTS_DIR": str(tmp_path / "models"),
        "DEBUG": "true",
    }
    values = json.loads(settings_with(env, tmp_path).stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["db_name"] == "books"
    assert values["broker"] == values["results"] == "redis://127.0.0.1:6379/3"
    assert values["cache"] == "recommender.resilient_cache.ResilientRedisCache"
    assert values["hosts"] == ["books.example.org", "www.example.org"]
    assert values["books_data"] == "/data/books"
    assert values["artifacts"] == str(tmp_path / "models")
    assert values["debug"] is True


def test_secret_key_required_without_debug(tmp_path):
    result = settings_with({}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr
    assert settings_with({"DEBUG": "1"}, tmp_path).returncode == 0
    (tmp_path / "var").mkdir(exist_ok=True)
    (tmp_path / "var" / "secret_key").write_text("generated-by-make-run\n")
    assert settings_with({}, tmp_path).returncode == 0  # the key make run generated


def test_booleans_are_strict(tmp_path):
    for word, expected in [("yes", True), ("On", True), ("0", False), ("off", False), ("", False)]:
        result = settings_with({"SECRET_KEY": "k", "DEBUG": word}, tmp_path)
        assert result.returncode == 0, (word, result.stderr)
        assert json.loads(result.stdout)["debug"] is expected, word
    for word in ("maybe", "2", "truee"):
        result = settings_with({"SECRET_KEY": "k", "DEBUG": word}, tmp_path)
        assert result.returncode != 0, word
        assert "ImproperlyConfigured" in result.stderr and f"DEBUG={word!r} is not a boolean" in result.stderr


def test_manage_py_creates_the_folders_it_needs(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update({"SECRET_KEY": "k", "VAR_DIR": str(tmp_path / "var")})
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    for folder in ("staticfiles", "celery/queue", "celery/processed", "celery/results"):
        assert (tmp_path / "var" / folder).is_dir(), folder


def test_the_bz2_decoder_is_one_of_three(tmp_path):
    for word in ("auto", "libbz2", "7ZZ", ""):
        result = settings_with({"SECRET_KEY": "k", "WIKIDUMP_BZIP2": word}, tmp_path)
        assert result.returncode == 0, (word, result.stderr)
    result = settings_with({"SECRET_KEY": "k", "WIKIDUMP_BZIP2": "7zip"}, tmp_path)
    assert result.returncode != 0 and "WIKIDUMP_BZIP2='7zip': use auto, 7zz or libbz2" in result.stderr
