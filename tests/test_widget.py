"""The embeddable widget: its documentation page, the framed page without a model, and widget.js as a static file."""

import re
from html import unescape

import pytest

from recommender.catalogue.models import Book
from recommender.front import pages
from recommender.widget import WIDGET_DEFAULT_K, WIDGET_MAX_K
from tests.helpers import ROOT

pytestmark = pytest.mark.django_db


def test_widget_docs_show_both_ways_with_snippets_and_preview(client, sample_catalogue):
    example = pages.example_book()
    assert example is not None and example.pk in pages.well_linked_ids()
    response = client.get("/widget/")
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    html = response.text
    snippets = unescape(html)  # the snippets are shown as escaped code
    assert f'<iframe src="http://testserver/widget/books/{example.pk}/?k=5"' in snippets
    assert f'<iframe src="/widget/books/{example.pk}/?k=5"' in html  # the live preview
    assert '<script src="http://testserver/static/widget.js" async></script>' in snippets
    assert f'<div data-book-recommendations="{example.title}" data-k="5"></div>' in html
    assert '<script src="/static/widget.js" async></script>' in html
    assert html.count('data-copy="') == 2 and "/static/js/copy.js" in html


def test_widget_docs_with_an_empty_catalogue(client, db):
    response = client.get("/widget/")
    assert response.status_code == 200
    assert "The catalogue is empty" in response.text and "widget.js" not in response.text


def test_framed_widget_without_a_model(client, sample_catalogue, artifacts_dir):
    book = Book.objects.get(title="Watership Down")
    response = client.get(f"/widget/books/{book.pk}/")
    assert response.status_code == 200
    assert "X-Frame-Options" not in response
    assert "no trained model" in response.text
    assert f'href="/books/{book.pk}/" target="_blank"' in response.text


@pytest.mark.parametrize(
    "path", ["/static/widget.js", "/static/js/autocomplete.js", "/static/js/copy.js", "/static/css/widget.css"]
)
def test_assets_are_served_from_static(client, db, path):
    """The files themselves, from this server (what they do is driven in a browser: tests/test_browser.py)."""
    response = client.get(path)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert body == (ROOT / path.lstrip("/")).read_bytes()
    kind = "text/css" if path.endswith(".css") else "javascript"
    assert kind in response["Content-Type"]


def test_widget_limits_come_from_the_server(client, db):
    """static/widget.js clamps data-k with these, so the script holds no copy of the limits."""
    response = client.get("/api/widget/", HTTP_ORIGIN="https://blog.example")
    assert response.status_code == 200
    assert response.json() == {"default_k": WIDGET_DEFAULT_K, "max_k": WIDGET_MAX_K}
    assert response["Access-Control-Allow-Origin"] == "*"
    assert not re.search(r"MAX_K\s*=\s*\d", (ROOT / "static/widget.js").read_text())  # no second copy
