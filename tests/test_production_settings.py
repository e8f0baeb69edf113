"""Production settings: `check --deploy` is clean, no SECRET_KEY refuses to start, retraining is staff-only and
CSRF-protected."""

import os
import secrets
import subprocess
import sys

import pytest
from django.contrib.auth.models import User
from django.test import Client

from embeddings.models import ModelVersion, TrainingRun
from tests.helpers import ROOT

PRODUCTION = {"DEBUG": "0", "HTTPS": "1", "ALLOWED_HOSTS": "books.example.org"}


def manage(env: dict[str, str], tmp_path, *args: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "HTTPS", "VAR_DIR"}}
    base.update({"VAR_DIR": str(tmp_path / "var")}, **env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean(tmp_path):
    result = manage({**PRODUCTION, "SECRET_KEY": secrets.token_urlsafe(60)}, tmp_path, "check", "--deploy")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout, result.stdout + result.stderr


def test_check_deploy_warns_without_https(tmp_path):
    env = {**PRODUCTION, "HTTPS": "0", "SECRET_KEY": secrets.token_urlsafe(60)}
    result = manage(env, tmp_path, "check", "--deploy")
    assert "security.W004" in result.stderr + result.stdout  # the check above is not vacuous


def test_refuses_to_start_without_secret_key(tmp_path):
    result = manage(PRODUCTION, tmp_path, "check")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/training/start/", "/training/runs/1/cancel/", "/training/versions/20260101-000000-abcdef/activate/"]
)
def test_retraining_is_staff_only_and_csrf_protected(path):
    anonymous = Client(enforce_csrf_checks=True)
    response = anonymous.post(path, {"epochs": "1"})
    assert response.status_code == 403 or "/admin/login/" in response["Location"]

    reader = Client(enforce_csrf_checks=True)
    reader.force_login(User.objects.create_user("reader", password="pw"))
    response = reader.post(path, {"epochs": "1"})
    assert response.status_code in (302, 403)
    assert response.status_code == 403 or "/admin/login/" in response["Location"]

    staff = Client(enforce_csrf_checks=True)
    staff.force_login(User.objects.create_user("librarian", password="pw", is_staff=True))
    assert staff.post(path, {"epochs": "1"}).status_code == 403  # no CSRF token: refused
    assert not TrainingRun.objects.exists() and not ModelVersion.objects.filter(is_active=True).exists()
