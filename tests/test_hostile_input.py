"""Odd and hostile input to the API and pages: a clear 4xx with a JSON message (or a normal page), never a 500."""

import json

import pytest

from embeddings.models import TrainingRun
from recommender.catalogue.models import Book, Link

pytestmark = pytest.mark.django_db

ODD_TEXT = [
    "a%00b",  # NUL: PostgreSQL refuses it in any string
    "%01%02%1b[31m",  # control characters, an ANSI escape
    "a%0Ab%09c%0D",  # line feed, tab, carriage return: let through (a textarea sent by GET holds them)
    "%ff%fe%fd",  # invalid UTF-8
    "%ed%a0%80",  # a UTF-16 surrogate encoded as UTF-8
    "x" * 5000,
    "%25%27%22%3C%3E%3Bdrop+table",  # quotes, angle brackets, SQL-ish
    "",
]


def is_json_error(response, status: int | None = None) -> bool:
    if status is not None and response.status_code != status:
        return False
    return 400 <= response.status_code < 500 and isinstance(response.json().get("error"), str)


@pytest.mark.parametrize("text", ODD_TEXT)
@pytest.mark.parametrize("path", ["/api/books/", "/api/links/"])
def test_odd_search_text_is_answered(client, trained_catalogue, path, text):
    response = client.get(path, QUERY_STRING=f"q={text}")
    assert response.status_code in (200, 400), response.content[:200]
    if response.status_code == 400:
        assert is_json_error(response)
    else:
        assert isinstance(response.json()["results"], list)


@pytest.mark.parametrize("text", ODD_TEXT)
@pytest.mark.parametrize("path", ["/", "/books/", "/for-me/", "/widget/"])
def test_odd_query_strings_on_pages(client, trained_catalogue, path, text):
    for name in ("q", "like", "dislike", "page", "k", "book"):
        response = client.get(path, QUERY_STRING=f"{name}={text}")
        assert response.status_code in (200, 400, 404), (path, name, response.status_code)


@pytest.mark.parametrize("k", ["-1", "0", "101", "99999999999999999999999", "1e3", "1.5", "%00", "ten", "%ff"])
def test_bad_k_is_400_json(client, trained_catalogue, k):
    book = Book.objects.get(title="Space Cadet").id
    assert is_json_error(client.get(f"/api/books/{book}/similar/", QUERY_STRING=f"k={k}"), 400)
    body = {"liked": [book], "k": k}
    assert is_json_error(client.post("/api/recommend/", body, content_type="application/json"), 400)


@pytest.mark.parametrize(
    "path",
    [
        "/api/books/99999999/",
        "/api/books/99999999999999999999999/similar/",  # beyond a 64-bit integer
        "/api/links/9223372036854775808/books/",
        "/api/links/0/similar/",
        "/api/nothing/here/",
    ],
)
def test_unknown_ids_are_404_json(client, trained_catalogue, path):
    assert is_json_error(client.get(path), 404)


@pytest.mark.parametrize("path", ["/books/99999999999999999999999/", "/links/9223372036854775808/"])
def test_unknown_ids_on_pages_are_404(client, trained_catalogue, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,  # deeper than Python's recursion limit
        b'{"liked": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b'{"liked": [1, 2' + b", 3" * 2000 + b"]}",
        b'{"liked": [9223372036854775808]}',
        b'{"liked": [-1]}',
        b'{"liked": [1], "k": 1e400}',
        b'{"liked": "1"}',
        b"\xff\xfe{}",
        b'{"liked": [1]',  # truncated
        b"",
        b"null",
        b'{"liked": [1], "extra": true}',
    ],
)
def test_bad_bodies_are_4xx_json(client, trained_catalogue, body):
    response = client.post("/api/recommend/", body, content_type="application/json")
    assert is_json_error(response), (response.status_code, response.content[:200])


def test_huge_body_is_4xx_json(client, trained_catalogue, settings):
    body = json.dumps({"liked": [1], "padding": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    response = client.post("/api/recommend/", body, content_type="application/json")
    assert is_json_error(response), (response.status_code, response.content[:200])


def test_nothing_changed(client, trained_catalogue):
    before = (Book.objects.count(), Link.objects.count(), TrainingRun.objects.count())
    for text in ODD_TEXT:
        client.get("/api/books/", QUERY_STRING=f"q={text}")
        client.post("/api/recommend/", text.encode(), content_type="application/json")
    assert (Book.objects.count(), Link.objects.count(), TrainingRun.objects.count()) == before


def test_api_paths_with_a_newline_are_json_404(client):
    response = client.get("/api/books/%0A1/")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
