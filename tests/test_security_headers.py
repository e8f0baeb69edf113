"""The Content-Security-Policy and the other security headers on every kind of answer, and templates that the policy
lets run: no inline script, no inline event handler (tests/test_browser.py loads the pages under the policy)."""

import re

import pytest
from django.contrib.auth.models import User

from recommender.catalogue.models import Book, Link
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)
HTML_SINK = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write")


def policy(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.fixture
def book(db) -> Book:
    book = Book.objects.create(title="A Book", author="Someone")
    link = Link.objects.create(name="a subject", book_count=1)
    book.book_links.create(link=link)
    return book


def test_reader_pages_api_and_admin(client, book):
    link = Link.objects.get()
    paths = ["/", "/books/", f"/books/{book.pk}/", f"/links/{link.pk}/", "/for-me/", "/widget/", "/no/such/page/"]
    paths += ["/api/books/?q=a", "/admin/login/", "/healthz", "/model-status/"]
    for path in paths:
        response = client.get(path)
        rules = policy(response)
        assert rules["default-src"] == ["'self'"] and rules["script-src"] == ["'self'"], path
        assert rules["object-src"] == ["'none'"] and rules["base-uri"] == ["'none'"], path
        assert rules["frame-ancestors"] == ["'none'"] and response["X-Frame-Options"] == "DENY", path
        assert response["X-Content-Type-Options"] == "nosniff" and response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]


def test_the_widget_iframe_may_be_framed_by_any_site(client, book):
    response = client.get(f"/widget/books/{book.pk}/")
    assert policy(response)["frame-ancestors"] == ["*"]
    assert "X-Frame-Options" not in response
    assert policy(response)["script-src"] == ["'self'"]


@pytest.mark.parametrize("path", ["/map/", "/map/links/"])
def test_only_the_webgl_map_may_eval(client, path):
    rules = policy(client.get(path))
    assert rules["script-src"] == ["'self'", "'unsafe-eval'"]
    assert rules["frame-ancestors"] == ["'none'"]


def test_staff_pages(client):
    client.force_login(User.objects.create_user("librarian", password="pw", is_staff=True))
    for path in ["/training/", "/training/versions/", "/admin/"]:
        rules = policy(client.get(path))
        assert rules["script-src"] == ["'self'"], path


def test_static_files_need_no_policy_but_widget_js_loads_anywhere(client):
    response = client.get("/static/widget.js")
    assert response.status_code == 200
    assert "Cross-Origin-Resource-Policy" not in response  # other sites include it with a plain <script src>


def test_templates_hold_no_inline_script_or_handler():
    for template in sorted((ROOT / "templates").rglob("*.html")):
        text = template.read_text()
        assert not INLINE_SCRIPT.search(text), template
        assert not INLINE_HANDLER.search(text), template
    for script in sorted((ROOT / "static").rglob("*.js")):  # our scripts, not the vendored plotly
        if "vendor" in script.parts:
            continue
        assert not HTML_SINK.search(script.read_text()), script  # data reaches the page as text only


def test_each_policy_is_built_once_and_is_django_csps_own(book, settings):
    from django.test import Client

    from recommender.content_security import CachedPolicyMiddleware

    paths = ["/", f"/books/{book.pk}/", f"/widget/books/{book.pk}/", "/map/", "/api/widget/", "/nothing-here/"]
    CachedPolicyMiddleware.policies.clear()
    ours = [Client().get(path)["Content-Security-Policy"] for path in paths]
    assert len(CachedPolicyMiddleware.policies) == 3  # the default, the widget's and the map's
    mine = "recommender.content_security.CachedPolicyMiddleware"
    settings.MIDDLEWARE = [m if m != mine else "csp.middleware.CSPMiddleware" for m in settings.MIDDLEWARE]
    theirs = [Client().get(path)["Content-Security-Policy"] for path in paths]
    assert ours == theirs
